using System.CommandLine;
using System.Text.Json;
using LibGit2Sharp;
using Reconciler.Daemon;
using Reconciler.Git;
using Reconciler.State;

namespace Reconciler.Cli;

/// <summary>`reconciler status`: desired (HEAD) vs live per service, per-host releases, last deploy. docs/cli/status.md.</summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var env = GitOpsOptions.Env();
        var repo = new Option<string>("--repo") { Description = "The infra repo; desired state is read from its HEAD commit.", DefaultValueFactory = _ => "." };
        var state = GitOpsOptions.State();
        var format = GitOpsOptions.Format();
        var command = new Command("status", "Show, per service, the desired version at HEAD against what runs, each host's release, and the last deploy.");
        command.Options.Add(env);
        command.Options.Add(repo);
        command.Options.Add(state);
        command.Options.Add(format);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var environment = GitOpsOptions.CheckEnvironment(parse.GetValue(env)!);
            var directory = parse.GetValue(repo)!;
            var loader = new GitDesiredStateLoader(new FileParseCache(FileParseCache.DefaultDirectory(directory)));
            var model = loader.LoadModel(directory, HeadOf(directory));
            var desired = GitDesiredStateLoader.Build(model, environment);
            await using var store = GitOpsOptions.OpenStore(parse.GetValue(state), model.Repository.StateUrl, directory, TimeProvider.System);
            var live = await store.ReadAsync(environment, ct);
            var report = StatusReports.Build(desired, live,
                await store.ReadHistoryAsync(environment, 50, ct),
                await store.ReadQuarantineAsync(environment, ct),
                await store.ReadLockAsync(environment, ct),
                await store.ReadFreezeAsync(environment, ct));
            var output = parse.InvocationConfiguration.Output;
            await output.WriteAsync(parse.GetValue(format) == "json"
                ? JsonSerializer.Serialize(report, ReconcilerJson.Options) + "\n"
                : Views.StatusView.RenderText(report));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>HEAD of the Git repository holding <paramref name="directory"/>: status compares live state with what
    /// is committed (what the daemon deploys), not with uncommitted edits.</summary>
    internal static string HeadOf(string directory)
    {
        if (!Directory.Exists(directory))
            throw new UserError($"--repo {directory}: no such directory. Pass the directory that holds reconciler.yaml.");
        var gitDir = Repository.Discover(Path.GetFullPath(directory))
            ?? throw new UserError($"{directory} is not inside a Git repository; status reads the committed desired state. Point --repo at your clone.");
        using var git = new Repository(gitDir);
        return git.Head.Tip?.Sha ?? throw new UserError($"{directory}: the repository has no commits yet.");
    }
}
