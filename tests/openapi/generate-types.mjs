// Writes the TypeScript types of an OpenAPI document: `node generate-types.mjs SPEC.json OUT.d.ts`.
// openapi-typescript's CLI types `format: binary` as `string`; its Node API's `transform` is the
// documented way to make file fields `Blob`, which is what a browser's FormData takes.
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [spec, out] = process.argv.slice(2);
const blob = ts.factory.createTypeReferenceNode("Blob");
const ast = await openapiTS(JSON.parse(fs.readFileSync(spec, "utf8")), {
  transform(schema) {
    if (schema.format === "binary") return blob;
    return undefined;
  },
});
fs.writeFileSync(out, astToString(ast));
