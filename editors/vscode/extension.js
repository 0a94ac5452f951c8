// VS Code client for the nnspec language server: starts `nnspec lsp` over stdio for .nn files.
// Plain JavaScript (no build step); the only dependency is vscode-languageclient.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("nnspec");
  let command = config.get("server.command", "nnspec");
  const args = config.get("server.args", ["lsp"]);
  // A relative command such as `.venv/bin/nnspec` is taken from the first workspace folder.
  const folders = vscode.workspace.workspaceFolders;
  if (command.includes("/") && !command.startsWith("/") && folders && folders.length > 0) {
    command = vscode.Uri.joinPath(folders[0].uri, command).fsPath;
  }
  return { command, args, transport: TransportKind.stdio };
}

async function start(context) {
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "nnspec" },
      { scheme: "untitled", language: "nnspec" },
    ],
    synchronize: {
      // Send workspace/didChangeConfiguration when an `nnspec.*` setting changes (the server
      // reads nnspec.inlayHints.enabled again).
      configurationSection: "nnspec",
      // Re-check when data or weight files next to a spec change on disk.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{nn,csv,npz}"),
    },
  };
  client = new LanguageClient("nnspec", "nnspec", serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `nnspec: could not start the language server (${err}). ` +
        "Install nnspec with the lsp extra (pip install 'nnspec[lsp]') " +
        "or set nnspec.server.command."
    );
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("nnspec.restartServer", async () => {
      if (client) {
        await client.stop();
      }
      await start(context);
    })
  );
  await start(context);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
