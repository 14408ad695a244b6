using System.CommandLine;
using Reconciler.Daemon;
using Reconciler.UseCases;

namespace Reconciler.Cli;

/// <summary>`reconciler run`: the GitOps daemon. docs/cli/run.md.</summary>
internal static class RunCommand
{
    public static Command Build()
    {
        var command = new Command("run", "Follow a branch and reconcile every new commit into one environment (merge to deploy, revert to roll back).");
        var common = new CommonOptions(command);
        common.AddEnv(required: true);
        common.AddRepo("Local clone (path) or URL (file://, https://, ssh://, user@host:path) of the infra repo.");
        var branch = new Option<string>("--branch") { Description = "Branch to follow.", DefaultValueFactory = _ => "main" };
        var interval = new Option<string>("--interval") { Description = "How often to fetch: 500ms, 5s, 2m, 1h.", DefaultValueFactory = _ => "30s" };
        var listen = new Option<string?>("--listen") { Description = "Serve /hooks/git, /healthz and /status on IP:PORT, e.g. 127.0.0.1:8080." };
        foreach (var o in new Option[] { branch, interval, listen }) command.Options.Add(o);
        common.AddState();
        var maxParallel = new Option<int?>("--max-parallel") { Description = "Cap on hosts changed at once (default: per service strategy)." };
        var sshKey = new Option<string?>("--ssh-key") { Description = "Private key for ssh hosts. Default: RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
        var trustUnknown = new Option<bool>("--trust-unknown-host-keys") { Description = "Accept ssh hosts without a pinned hostKey (warned for each)." };
        var leaderTtl = new Option<string>("--leader-ttl")
        {
            Description = "Consul store: session TTL of the leadership among daemons of the environment (a standby takes over within 2 x TTL + lock-delay). Min 10s.",
            DefaultValueFactory = _ => "15s",
        };
                var driftInterval = new Option<string>("--drift-interval") { Description = "How often to ask the hosts for drift once the head is applied (500ms, 5s, 2m, 1h), or off. selfHeal: true in reconciler.yaml repairs it.", DefaultValueFactory = _ => "5m" };
        foreach (var o in new Option[] { maxParallel, sshKey, trustUnknown, leaderTtl, driftInterval }) command.Options.Add(o);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, () =>
        {
            var args = common.Read(parse);
            return RunAsync(new RunSettings(
                args.Environment,
                args.Repo,
                parse.GetValue(branch)!,
                Durations.Parse(parse.GetValue(interval)!, "--interval"),
                parse.GetValue(listen) is { } l ? DaemonHttp.ParseListen(l) : null,
                args.State,
                parse.GetValue(maxParallel),
                parse.GetValue(sshKey),
                parse.GetValue(trustUnknown),
                Durations.Parse(parse.GetValue(leaderTtl)!, "--leader-ttl"),
                parse.GetValue(driftInterval) is "off" ? null : Durations.Parse(parse.GetValue(driftInterval)!, "--drift-interval")), parse.InvocationConfiguration.Error, ct);
        }));
        return command;
    }

    internal sealed record RunSettings(string Environment, string Repo, string Branch, TimeSpan Interval, System.Net.IPEndPoint? Listen,
        string? StateUrl, int? MaxParallel, string? SshKey, bool TrustUnknownHostKeys, TimeSpan? LeaderTtl = null, TimeSpan? DriftInterval = null);

    /// <summary>The daemon until <paramref name="stop"/> (SIGTERM/SIGINT); tests call it in-process.</summary>
    internal static async Task<int> RunAsync(RunSettings s, TextWriter log, CancellationToken stop)
    {
        if (s.MaxParallel is < 1) throw new UserError("--max-parallel must be at least 1.");
        if (s.LeaderTtl is { } ttl && (ttl < TimeSpan.FromSeconds(10) || ttl > TimeSpan.FromHours(24)))
            throw new UserError("--leader-ttl must be between 10s and 24h (Consul's session TTL bounds), e.g. --leader-ttl 15s.");
        var prepared = await RunDaemon.PrepareAsync(new DaemonRequest(s.Environment, s.Repo, s.Branch, s.Interval, s.StateUrl, s.MaxParallel,
            s.SshKey, s.TrustUnknownHostKeys, $"daemon@{Environment.MachineName}", log, s.LeaderTtl) { DriftInterval = s.DriftInterval }, TimeProvider.System, stop);
        if (!prepared.Succeeded) return ExitCodes.For(await CliRunner.FailAsync(log, prepared));
        await using var daemon = prepared.Value;

        DaemonHttp? server = null;
        if (s.Listen is { } endpoint)
        {
            var secret = Environment.GetEnvironmentVariable("RECONCILER_WEBHOOK_SECRET");
            try
            {
                server = await DaemonHttp.StartAsync(endpoint, daemon.Daemon, secret, stop, daemon.Page);
            }
            catch (IOException e)
            {
                throw new UserError($"cannot listen on {endpoint}: {e.Message}. Pick a free port with --listen.");
            }
            await log.WriteLineAsync($"listening on {server.Address} (/ status page, /hooks/git, /healthz, /status)" +
                                     (secret is { Length: > 0 } ? "" : "; webhooks disabled: RECONCILER_WEBHOOK_SECRET is not set"));
        }
        try
        {
            await daemon.Daemon.RunAsync(stop);
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
        }
        return ExitCodes.Ok;   // stopped by a signal at a safe point: a clean stop for systemd
    }
}
