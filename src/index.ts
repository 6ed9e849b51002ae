import { createApp } from "./app";

export { ResourceObject } from "./resource-object/resource-object";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
