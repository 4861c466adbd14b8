import { toJsonSchema } from "./json-schema.js";
import { TaskSpecSchema } from "./spec.js";

/** Where the task spec's JSON Schema is committed, relative to the repository root. */
export const TASK_SPEC_SCHEMA_PATH = "docs/task-spec.schema.json";

/** The task spec's JSON Schema as the committed file holds it (two-space JSON and a newline). */
export function taskSpecJsonSchemaText(): string {
  return `${JSON.stringify(toJsonSchema(TaskSpecSchema, "PoDL task spec v1 (docs/artifact-v1.md, docs/publishing.md)"), null, 2)}\n`;
}
