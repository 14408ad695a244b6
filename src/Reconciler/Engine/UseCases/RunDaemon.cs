using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Notifications;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <param name="Repo">A local clone (path) or a URL of the infra repo.</param>
/// <param name="AppliedBy">Who the daemon applies as (daemon@HOST), for the lock and the history.</param>
/// <param name="Log">The daemon's log (one line per event) and warnings.</param>
public sealed record DaemonRequest(
    string Environment, string Repo, string Branch, TimeSpan Interval, string? StateUrl, int? MaxParallel, string? SshKey,
    bool TrustUnknownHostKeys, string AppliedBy, TextWriter Log, TimeSpan? LeaderTtl = null)
{
    /// <summary>Session TTL of the leadership among daemons sharing a Consul store (docs/cli/run.md, "Several daemons").</summary>
    public static readonly TimeSpan DefaultLeaderTtl = TimeSpan.FromSeconds(15);

    /// <summary>--drift-interval: how often the hosts are asked for drift (issue 13); null: never.</summary>
    public TimeSpan? DriftInterval { get; init; }
}

/// <summary>
/// `reconciler run` (docs/cli/run.md): fetches the branch once, finds the state store, and composes the
/// <see cref="GitOpsDaemon"/> that then reconciles every new head (<see cref="ReconcileCommit"/>). The CLI serves its
/// HTTP endpoints and runs it until a signal.
/// </summary>
public static class RunDaemon
{
    public static async Task<UseCaseResult<PreparedDaemon>> PrepareAsync(DaemonRequest r, TimeProvider time, CancellationToken stop)
    {
        IStateStore? store = null;
        try
        {
            StateNames.Check("environment", r.Environment);
            // Working files (mirror, parse cache, artifact cache, local-driver hosts) live beside the repo for a path, and
            // in the current directory for a URL.
            var baseDirectory = GitFollower.IsUrl(r.Repo) ? Directory.GetCurrentDirectory() : Path.GetFullPath(r.Repo);
            var stateDirectory = Path.Combine(baseDirectory, ".reconciler");
            var follower = new GitFollower(r.Repo, r.Branch, stateDirectory);
            var head = await follower.FetchAsync(stop);

            var loader = new GitDesiredStateLoader(new FileParseCache(Path.Combine(stateDirectory, "cache", "parse")));
            store = StateStores.Locate(r.StateUrl, () => StateUrlAt(loader, follower.RepositoryPath, head.Sha), baseDirectory).Open(time);
            string subdirectory;
            using (var source = GitRepoSource.Open(follower.RepositoryPath, head.Sha)) subdirectory = source.Subdirectory;

            var dependencies = ExecutorWiring.Dependencies(store, baseDirectory, time,
                ExecutorWiring.DriverOptions(baseDirectory, r.SshKey, r.TrustUnknownHostKeys, r.Log, r.Environment));
            var notifier = new Notifier(ExecutorWiring.Http, r.Log);
            // Daemons sharing a store that elects a leader: the apply lock lives as long as the leadership without
            // renewal, so a standby that takes over from a dead leader finds its apply lock expired as well.
            var leaderTtl = r.LeaderTtl ?? DaemonRequest.DefaultLeaderTtl;
            var election = store as ILeaderElection;
            var reconciler = new CommitReconciler(dependencies, follower.RepositoryPath, subdirectory,
                Path.Combine(stateDirectory, "artifacts-from-git"), notifier, election is null ? null : new ReconcileOptions { LockTtl = leaderTtl });
            var daemon = new GitOpsDaemon(new DaemonOptions(r.Environment, r.Interval, r.AppliedBy, r.MaxParallel) { DriftInterval = r.DriftInterval },
                follower, loader, reconciler, store, time, r.Log, observer: new Live.LiveProbe(dependencies))
            {
                Leadership = election is null ? null : new LeaderElector(election, r.Environment, $"{r.AppliedBy} pid {Environment.ProcessId}", leaderTtl, time,
                    line => r.Log.WriteLine($"{time.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ} run[{r.Environment}]: {line}")),
            };
            // The page loads the head's desired state with a loader (and parse cache) of its own: requests come on
            // Kestrel's threads while the loop loads commits on its own.
            var page = new StatusPageSource(daemon, time, store,
                new GitDesiredStateLoader(new FileParseCache(Path.Combine(stateDirectory, "cache", "parse-page"))), follower.RepositoryPath);
            return UseCaseResult.Ok(new PreparedDaemon(daemon, notifier, store) { Page = page });
        }
        catch (ReconcilerException e)
        {
            if (store is not null) await store.DisposeAsync();
            return UseCaseResult.Failed<PreparedDaemon>(e.ToFailure());
        }
        catch
        {
            if (store is not null) await store.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>state:</c> of reconciler.yaml at the head: a head that does not validate names no store, and the
    /// daemon cannot start to wait for a fixed commit.</summary>
    private static string? StateUrlAt(GitDesiredStateLoader loader, string repositoryPath, string commit)
    {
        try
        {
            return loader.LoadModel(repositoryPath, commit).Repository.StateUrl;
        }
        catch (ReconcilerException e) when (e.Kind == FailureKind.InvalidInput)
        {
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"cannot find the state store: {e.Message}\nPass --state URL (or RECONCILER_STATE) so the daemon can start and wait for a fixed commit.");
        }
    }
}

/// <summary>A composed daemon, not yet running.</summary>
public sealed class PreparedDaemon(GitOpsDaemon daemon, Notifier notifier, IStateStore store) : IAsyncDisposable
{
    public GitOpsDaemon Daemon { get; } = daemon;

    /// <summary>What the status page at `/` shows (<see cref="StatusPageSource"/>).</summary>
    public IStatusPageSource? Page { get; init; }

    public async ValueTask DisposeAsync()
    {
        await notifier.DisposeAsync();
        await store.DisposeAsync();
    }
}
