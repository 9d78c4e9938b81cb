/** Wire constants with no dependencies, so a browser bundle can use them without the schemas. */
export const API_BASE = "/api/v1/workflows";
