using System.CommandLine;
using System.Text.Json;
using Reconciler.Daemon;
using Reconciler.Git;
using Reconciler.State;

namespace Reconciler.Cli;

/// <summary>`reconciler history`: who deployed what, when, with what result. docs/cli/history.md.</summary>
internal static class HistoryCommand
{
    public static Command Build()
    {
        var env = GitOpsOptions.Env();
        var repo = new Option<string>("--repo") { Description = "The infra repo (where `state:` and the default SQLite store are).", DefaultValueFactory = _ => "." };
        var state = GitOpsOptions.State();
        var format = GitOpsOptions.Format();
        var limit = new Option<int>("--limit") { Description = "At most this many entries, newest first.", DefaultValueFactory = _ => 20 };
        var command = new Command("history", "List the deploys of an environment, newest first: commit, result, who, when, per-service outcome.");
        command.Options.Add(env);
        command.Options.Add(limit);
        command.Options.Add(repo);
        command.Options.Add(state);
        command.Options.Add(format);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var environment = GitOpsOptions.CheckEnvironment(parse.GetValue(env)!);
            var max = parse.GetValue(limit);
            if (max is < 1 or > 10_000) throw new UserError($"--limit {max} is out of range; use 1..10000.");
            var directory = Path.GetFullPath(parse.GetValue(repo)!);
            if (parse.GetValue(state) is null && !Directory.Exists(directory))
                throw new UserError($"--repo {parse.GetValue(repo)}: no such directory. Pass the directory that holds reconciler.yaml, or --state URL.");
            // Only the store's URL is needed: a broken service file must not keep anyone from reading history.
            var url = StateStores.ResolveUrl(parse.GetValue(state), directory);
            IReadOnlyList<HistoryEntry> entries = [];
            if (StateStores.SqlitePath(url, directory) is not { } file || File.Exists(file))   // reading never creates a store
            {
                await using var store = StateStores.Open(url, directory, TimeProvider.System);
                entries = await store.ReadHistoryAsync(environment, max, ct);
            }
            var output = parse.InvocationConfiguration.Output;
            await output.WriteAsync(parse.GetValue(format) == "json"
                ? JsonSerializer.Serialize(entries, ReconcilerJson.Options) + "\n"
                : Views.StatusView.RenderHistoryText(environment, entries));
            return ExitCodes.Ok;
        }));
        return command;
    }
}
