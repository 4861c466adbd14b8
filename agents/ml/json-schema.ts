import { z } from "zod";

/**
 * JSON Schema (draft 2020-12) for the zod 3 schemas of our formats, so that editors and other
 * languages can check a task spec (docs/task-spec.schema.json, written by scripts/json-schema.ts).
 * zod 3 has no exporter of its own (`z.toJSONSchema` takes zod 4 schemas only) and this covers the
 * constructs our schemas use; anything else throws rather than being exported wrong. Refinements
 * and transforms are code: the schema states the shape, `parseSpec` stays the authority.
 */
export type JsonSchema = Record<string, unknown>;

export function toJsonSchema(schema: z.ZodTypeAny, title: string): JsonSchema {
  return { $schema: "https://json-schema.org/draft/2020-12/schema", title, ...convert(schema) };
}

function convert(schema: z.ZodTypeAny): JsonSchema {
  const out = convertType(schema);
  return schema.description === undefined ? out : { description: schema.description, ...out };
}

function convertType(schema: z.ZodTypeAny): JsonSchema {
  const def = schema._def as { typeName: z.ZodFirstPartyTypeKind } & Record<string, unknown>;
  switch (def.typeName) {
    case z.ZodFirstPartyTypeKind.ZodObject: {
      const shape = (schema as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;
      const required = Object.entries(shape).filter(([, s]) => !s.isOptional()).map(([k]) => k);
      return {
        type: "object",
        properties: Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, convert(s)])),
        ...(required.length > 0 ? { required } : {}),
        ...(def.unknownKeys === "strict" ? { additionalProperties: false } : {}),
      };
    }
    case z.ZodFirstPartyTypeKind.ZodArray: {
      const a = def as unknown as z.ZodArrayDef;
      return { type: "array", items: convert(a.type), ...(a.minLength ? { minItems: a.minLength.value } : {}), ...(a.maxLength ? { maxItems: a.maxLength.value } : {}) };
    }
    case z.ZodFirstPartyTypeKind.ZodNumber:
      return numberSchema(def as unknown as z.ZodNumberDef);
    case z.ZodFirstPartyTypeKind.ZodString: {
      const out: JsonSchema = { type: "string" };
      for (const c of (def as unknown as z.ZodStringDef).checks) {
        if (c.kind === "min") out.minLength = c.value;
        else if (c.kind === "max") out.maxLength = c.value;
        else if (c.kind === "length") out.minLength = out.maxLength = c.value;
        else throw new Error(`toJsonSchema: string check ${c.kind} not supported`);
      }
      return out;
    }
    case z.ZodFirstPartyTypeKind.ZodBoolean:
      return { type: "boolean" };
    case z.ZodFirstPartyTypeKind.ZodLiteral:
      return { const: (def as unknown as z.ZodLiteralDef).value };
    case z.ZodFirstPartyTypeKind.ZodEnum:
      return { type: "string", enum: [...(def as unknown as z.ZodEnumDef).values] };
    case z.ZodFirstPartyTypeKind.ZodUnion:
      return { anyOf: ([...(def as unknown as z.ZodUnionDef).options] as z.ZodTypeAny[]).map(convert) };
    case z.ZodFirstPartyTypeKind.ZodDiscriminatedUnion:
      return { oneOf: [...(def as unknown as z.ZodDiscriminatedUnionDef<string>).options.values()].map((o) => convert(o as z.ZodTypeAny)) };
    case z.ZodFirstPartyTypeKind.ZodOptional:
      return convert((def as unknown as z.ZodOptionalDef).innerType);
    case z.ZodFirstPartyTypeKind.ZodDefault: {
      const d = def as unknown as z.ZodDefaultDef;
      return { ...convert(d.innerType), default: d.defaultValue() };
    }
    case z.ZodFirstPartyTypeKind.ZodEffects: // refine, transform: checked in code
      return convert((def as unknown as z.ZodEffectsDef).schema);
    default:
      throw new Error(`toJsonSchema: zod type ${def.typeName} not supported`);
  }
}

function numberSchema(def: z.ZodNumberDef): JsonSchema {
  const out: JsonSchema = { type: "number" };
  for (const c of def.checks) {
    if (c.kind === "int") out.type = "integer";
    else if (c.kind === "min") out[c.inclusive ? "minimum" : "exclusiveMinimum"] = c.value;
    else if (c.kind === "max") out[c.inclusive ? "maximum" : "exclusiveMaximum"] = c.value;
    else if (c.kind === "finite") continue;
    else throw new Error(`toJsonSchema: number check ${c.kind} not supported`);
  }
  return out;
}
