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
            var directory = parse.GetValue(repo)!;
            var cliState = parse.GetValue(state);
            string? repoState = null;
            if (cliState is null && Environment.GetEnvironmentVariable("RECONCILER_STATE") is null)
                repoState = StateUrlAtHead(directory);
            await using var store = GitOpsOptions.OpenStore(cliState, repoState, directory, TimeProvider.System);
            var entries = await store.ReadHistoryAsync(environment, max, ct);
            var output = parse.InvocationConfiguration.Output;
            await output.WriteAsync(parse.GetValue(format) == "json"
                ? JsonSerializer.Serialize(entries, ReconcilerJson.Options) + "\n"
                : StatusReports.RenderHistoryText(environment, entries));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>`state:` of reconciler.yaml at HEAD, or null outside Git (then the default store is used).</summary>
    private static string? StateUrlAtHead(string directory)
    {
        if (!Directory.Exists(directory))
            throw new UserError($"--repo {directory}: no such directory. Pass the directory that holds reconciler.yaml, or --state URL.");
        if (LibGit2Sharp.Repository.Discover(Path.GetFullPath(directory)) is null) return null;
        var loader = new GitDesiredStateLoader(new FileParseCache(FileParseCache.DefaultDirectory(directory)));
        return loader.LoadModel(directory, StatusCommand.HeadOf(directory)).Repository.StateUrl;
    }
}
