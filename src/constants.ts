/** Wire constants with no dependencies, so a browser bundle can use them without the schemas. */
export const API_BASE = "/api/v1/workflows";

/** Close code sent to WebSocket viewers when their run is deleted: do not reconnect. */
export const CLOSE_RUN_DELETED = 4410;
