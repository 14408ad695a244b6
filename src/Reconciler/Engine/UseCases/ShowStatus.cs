using LibGit2Sharp;
using Reconciler.Daemon;
using Reconciler.Git;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed; desired state is read from its HEAD commit.</param>
/// <param name="Probe">How to reach the hosts to ask them (issue 13); null: what the store recorded only (--recorded).</param>
public sealed record StatusRequest(string Repo, string Environment, string? StateUrl, HostAccess? Probe = null);

/// <summary>`reconciler status`: per service the desired version at HEAD against what runs, each host's release, and
/// the environment's last deploy, lock, freeze and quarantined commits (docs/cli/status.md).</summary>
public static class ShowStatus
{
    /// <summary>How many recent deploys are searched for each service's last outcome.</summary>
    private const int HistoryDepth = 50;

    public static Task<UseCaseResult<StatusReport>> RunAsync(StatusRequest request, TimeProvider time, CancellationToken ct) => UseCaseResult.CatchAsync(async () =>
    {
        var environment = request.Environment;
        StateNames.Check("environment", environment);
        var loader = new GitDesiredStateLoader(new FileParseCache(FileParseCache.DefaultDirectory(request.Repo)));
        var model = loader.LoadModel(request.Repo, HeadOf(request.Repo));
        var desired = GitDesiredStateLoader.Build(model, environment);
        // The hosts' handshakes run while the store is read (nothing but the connection happens before the probe asks).
        await using var drivers = request.Probe is { } hostAccess ? ObserveHosts.Drivers(hostAccess, Path.GetFullPath(request.Repo), environment) : null;
        drivers?.Preconnect(ObserveHosts.SshHosts(desired));
        await using var store = StateStores.Open(request.StateUrl, model.Repository.StateUrl, request.Repo, time);
        var live = await store.ReadAsync(environment, ct);
        var report = StatusReports.Build(desired, live,
            await store.ReadHistoryAsync(environment, HistoryDepth, ct),
            await store.ReadQuarantineAsync(environment, ct),
            await store.ReadLockAsync(environment, ct),
            await store.ReadFreezeAsync(environment, ct));
        return request.Probe is { } access
            ? report with { Live = await ObserveHosts.RunAsync(access, Path.GetFullPath(request.Repo), store, desired, live, time, ct, drivers) }
            : report;
    });

    /// <summary>HEAD of the Git repository holding <paramref name="directory"/>: status compares live state with what
    /// is committed (what the daemon deploys), not with uncommitted edits.</summary>
    internal static string HeadOf(string directory)
    {
        if (!Directory.Exists(directory))
            throw Invalid($"--repo {directory}: no such directory. Pass the directory that holds reconciler.yaml.");
        var gitDir = GitDiscovery.Find(Path.GetFullPath(directory))
            ?? throw Invalid($"{directory} is not inside a Git repository; status reads the committed desired state. Point --repo at your clone.");
        using var git = new Repository(gitDir);
        return git.Head.Tip?.Sha ?? throw Invalid($"{directory}: the repository has no commits yet.");
    }

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);
}
