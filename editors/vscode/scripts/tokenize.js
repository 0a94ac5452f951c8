// editors: .nn files -> JSON tokens with TextMate scopes, exactly as VS Code colours them.
// Uses the same engine as VS Code (vscode-textmate + vscode-oniguruma, devDependencies).
// Usage: node scripts/tokenize.js FILE... ; prints
//   [{"file": F, "lines": [[{"text": T, "start": S, "scopes": [...]}, ...], ...]}, ...]
// tests/lsp/test_grammar.py runs this and checks the scopes of every name.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = path.resolve(__dirname, "..");
const grammarPath = path.join(here, "syntaxes", "nnspec.tmLanguage.json");

async function main(files) {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.nnspec") return null;
      const text = fs.readFileSync(grammarPath, "utf8");
      return vsctm.parseRawGrammar(text, grammarPath);
    },
  });
  const grammar = await registry.loadGrammar("source.nnspec");
  const out = [];
  for (const file of files) {
    const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
    let state = vsctm.INITIAL;
    const tokenized = [];
    for (const line of lines) {
      const result = grammar.tokenizeLine(line, state);
      tokenized.push(
        result.tokens.map((t) => ({
          text: line.substring(t.startIndex, t.endIndex),
          start: t.startIndex,
          scopes: t.scopes,
        }))
      );
      state = result.ruleStack;
    }
    out.push({ file, lines: tokenized });
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
