using System.CommandLine;
using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Notifications;

namespace Reconciler.Cli;

/// <summary>`reconciler run`: the GitOps daemon. docs/cli/run.md.</summary>
internal static class RunCommand
{
    public static Command Build()
    {
        var env = GitOpsOptions.Env();
        var repo = new Option<string>("--repo") { Description = "Local clone (path) or URL (file://, https://, ssh://, user@host:path) of the infra repo.", DefaultValueFactory = _ => "." };
        var branch = new Option<string>("--branch") { Description = "Branch to follow.", DefaultValueFactory = _ => "main" };
        var interval = new Option<string>("--interval") { Description = "How often to fetch: 500ms, 5s, 2m, 1h.", DefaultValueFactory = _ => "30s" };
        var listen = new Option<string?>("--listen") { Description = "Serve /hooks/git, /healthz and /status on IP:PORT, e.g. 127.0.0.1:8080." };
        var state = GitOpsOptions.State();
        var maxParallel = new Option<int?>("--max-parallel") { Description = "Cap on hosts changed at once (default: per service strategy)." };
        var sshKey = new Option<string?>("--ssh-key") { Description = "Private key for ssh hosts. Default: RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
        var trustUnknown = new Option<bool>("--trust-unknown-host-keys") { Description = "Accept ssh hosts without a pinned hostKey (warned for each)." };
        var command = new Command("run", "Follow a branch and reconcile every new commit into one environment (merge to deploy, revert to roll back).");
        foreach (var o in new Option[] { env, repo, branch, interval, listen, state, maxParallel, sshKey, trustUnknown }) command.Options.Add(o);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, () => RunAsync(new RunSettings(
            GitOpsOptions.CheckEnvironment(parse.GetValue(env)!),
            parse.GetValue(repo)!,
            parse.GetValue(branch)!,
            Durations.Parse(parse.GetValue(interval)!, "--interval"),
            parse.GetValue(listen) is { } l ? DaemonHttp.ParseListen(l) : null,
            parse.GetValue(state),
            parse.GetValue(maxParallel),
            parse.GetValue(sshKey),
            parse.GetValue(trustUnknown)), parse.InvocationConfiguration.Error, ct)));
        return command;
    }

    internal sealed record RunSettings(string Environment, string Repo, string Branch, TimeSpan Interval, System.Net.IPEndPoint? Listen,
        string? StateUrl, int? MaxParallel, string? SshKey, bool TrustUnknownHostKeys);

    /// <summary>The daemon until <paramref name="stop"/> (SIGTERM/SIGINT); tests call it in-process.</summary>
    internal static async Task<int> RunAsync(RunSettings s, TextWriter log, CancellationToken stop)
    {
        if (s.MaxParallel is < 1) throw new UserError("--max-parallel must be at least 1.");
        var time = TimeProvider.System;
        var isUrl = GitFollower.IsUrl(s.Repo);
        // Working files (mirror, parse cache, artifact cache, local-driver hosts) live beside the repo for a path, and
        // in the current directory for a URL.
        var baseDirectory = isUrl ? Directory.GetCurrentDirectory() : Path.GetFullPath(s.Repo);
        var stateDirectory = Path.Combine(baseDirectory, ".reconciler");
        var follower = new GitFollower(s.Repo, s.Branch, stateDirectory);
        var head = await follower.FetchAsync(stop);

        var loader = new GitDesiredStateLoader(new FileParseCache(Path.Combine(stateDirectory, "cache", "parse")));
        string? repoStateUrl = null;
        if (s.StateUrl is null && Environment.GetEnvironmentVariable("RECONCILER_STATE") is null)
        {
            try
            {
                repoStateUrl = loader.LoadModel(follower.RepositoryPath, head.Sha).Repository.StateUrl;
            }
            catch (ReconcilerException e) when (e.Kind == FailureKind.InvalidInput)
            {
                throw new UserError($"cannot find the state store: {e.Message}\nPass --state URL (or RECONCILER_STATE) so the daemon can start and wait for a fixed commit.");
            }
        }
        await using var store = GitOpsOptions.OpenStore(s.StateUrl, repoStateUrl, baseDirectory, time);
        string subdirectory;
        using (var source = GitRepoSource.Open(follower.RepositoryPath, head.Sha)) subdirectory = source.Subdirectory;

        var dependencies = ExecutorWiring.Dependencies(store, baseDirectory, time,
            ExecutorWiring.DriverOptions(baseDirectory, s.SshKey, s.TrustUnknownHostKeys, log, s.Environment));
        await using var notifier = new Notifier(ExecutorWiring.Http, log);
        var reconciler = new CommitReconciler(dependencies, follower.RepositoryPath, subdirectory,
            Path.Combine(stateDirectory, "artifacts-from-git"), notifier);
        var daemon = new GitOpsDaemon(
            new DaemonOptions(s.Environment, s.Interval, $"daemon@{Environment.MachineName}", s.MaxParallel),
            follower, loader, reconciler, store, time, log);

        DaemonHttp? server = null;
        if (s.Listen is { } endpoint)
        {
            try
            {
                server = await DaemonHttp.StartAsync(endpoint, daemon, Environment.GetEnvironmentVariable("RECONCILER_WEBHOOK_SECRET"), stop);
            }
            catch (IOException e)
            {
                throw new UserError($"cannot listen on {endpoint}: {e.Message}. Pick a free port with --listen.");
            }
            await log.WriteLineAsync($"listening on {server.Address} (/hooks/git, /healthz, /status)" +
                                     (Environment.GetEnvironmentVariable("RECONCILER_WEBHOOK_SECRET") is { Length: > 0 } ? "" : "; webhooks disabled: RECONCILER_WEBHOOK_SECRET is not set"));
        }
        try
        {
            await daemon.RunAsync(stop);
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
        }
        return ExitCodes.Ok;   // stopped by a signal at a safe point: a clean stop for systemd
    }
}
