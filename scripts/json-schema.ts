// Writes docs/task-spec.schema.json from the zod schema (agents/ml/spec.ts); a test checks it is up to date.
import { writeFileSync } from "node:fs";
import { taskSpecJsonSchemaText, TASK_SPEC_SCHEMA_PATH } from "../agents/ml/spec-json-schema.js";

writeFileSync(TASK_SPEC_SCHEMA_PATH, taskSpecJsonSchemaText());
console.log(`wrote ${TASK_SPEC_SCHEMA_PATH}`);
