// Reads {"schemas": {KIND: schema}, "documents": [{"kind": KIND, "document": ...}]} from argv[3] and writes a JSON
// array of ajv's verdicts (true = valid) to argv[4]. argv[2] is the node_modules folder holding ajv 8 (tests/npm).
// ajv's defaults read draft-07 with ECMA-262 patterns under the "u" flag, as editors do; strict mode is off only so
// that the editor-only keyword markdownDescription is ignored rather than refused.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require(path.join(process.argv[2], 'ajv'));
const input = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
const validators = {};
for (const [kind, schema] of Object.entries(input.schemas)) validators[kind] = ajv.compile(schema);
const verdicts = input.documents.map(d => validators[d.kind](d.document) === true);
fs.writeFileSync(process.argv[4], JSON.stringify(verdicts));
