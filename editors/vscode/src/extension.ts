// Starts `poolcheck lsp` for the files poolcheck reads and passes the
// poolcheck.* settings to it.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

// Every kind of file poolcheck reads.
const documentSelector: LanguageClientOptions["documentSelector"] = [
  { scheme: "file", language: "python" },
  { scheme: "file", language: "ini" },
  { scheme: "file", language: "properties" },
  { scheme: "file", language: "toml" },
  { scheme: "file", language: "yaml" },
  { scheme: "file", language: "dockercompose" },
  { scheme: "file", language: "dockerfile" },
  { scheme: "file", language: "shellscript" },
  { scheme: "file", language: "procfile" },
  { scheme: "file", pattern: "**/{postgresql*.conf,pgbouncer*.ini,.env,.env.*,requirements*.txt}" },
];

/** The settings the server understands: select, ignore, severity, fail-on, debounce-ms. */
function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("poolcheck");
  return {
    select: config.get<string[] | null>("select", null),
    ignore: config.get<string[]>("ignore", []),
    severity: config.get<Record<string, string>>("severity", {}),
    "fail-on": config.get<string | null>("fail-on", null),
    "debounce-ms": config.get<number | null>("debounce-ms", null),
  };
}

function createClient(): LanguageClient {
  const config = vscode.workspace.getConfiguration("poolcheck");
  const command = config.get<string>("path", "poolcheck");
  const args = config.get<string[]>("args", ["lsp"]);
  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector,
    initializationOptions: serverSettings(),
    // The server reads select/ignore/severity/fail-on/debounce-ms from the `poolcheck`
    // section and leaves the client's own keys (path, args, trace) alone.
    synchronize: { configurationSection: "poolcheck" },
  };
  return new LanguageClient("poolcheck", "poolcheck", serverOptions, clientOptions);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  client = createClient();
  context.subscriptions.push(
    vscode.commands.registerCommand("poolcheck.restart", async () => {
      if (client) {
        await client.stop();
      }
      client = createClient();
      await client.start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("poolcheck.path") || event.affectsConfiguration("poolcheck.args")) {
        await vscode.commands.executeCommand("poolcheck.restart");
      }
    }),
  );
  try {
    await client.start();
  } catch (error) {
    const command = vscode.workspace.getConfiguration("poolcheck").get<string>("path", "poolcheck");
    void vscode.window.showErrorMessage(
      `poolcheck: could not start \`${command} lsp\` (${String(error)}). Install poolcheck or set poolcheck.path.`,
    );
  }
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
