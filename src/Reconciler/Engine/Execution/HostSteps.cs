using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>The journaled host steps of the forward run (stage, activate, remove), the release bundles they put on
/// hosts, and pruning old releases: folded into each activation, and once a service is done on the hosts it runs on
/// whose activation did not prune (unchanged hosts, or one switched by an earlier process of a resumed apply).</summary>
internal sealed class HostSteps(ApplyContext run)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<ReleaseBundle>>> _bundles = new(StringComparer.Ordinal);
    // Hosts whose activation pruned, per service: by host name on the ordinal comparer, which hashes without the randomized
    // string hash a (service, host) key used at every activation.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, bool>> _pruned = new(StringComparer.Ordinal);
    // Whether a service's config renders per host, asked once per spec rather than at every host's stage.
    private readonly ConcurrentDictionary<ServiceSpec, bool> _perHost = new(ReferenceEqualityComparer.Instance);

    /// <summary>One host step: skipped when journaled Finished; otherwise journaled around the work. The work itself is
    /// not cancelled: a host is never left between two steps inconsistent with the journal. A switch journals the batch
    /// it belongs to (<see cref="SwitchDetail"/>), so a repair knows which batch's state write covers it.</summary>
    public async Task RunAsync(StepKey key, DriverKind driver, CancellationToken ct, Func<IHostSession, Task> work, int? batch = null)
    {
        if (run.Journal.IsFinished(key)) return;
        var (host, action) = (key.Host!, key.HostAction);
        // Without the token: a batch queues thousands of steps on the slots, and a cancellable wait allocates a
        // registration and a promise per waiter (~25 MB per apply at 10,000 hosts). Cancelling loses no time by it: the
        // caller awaits the running steps anyway (their work is never cancelled), and each slot they free lets a waiter
        // in that stops at the check below and frees it again.
        await run.HostSlots.WaitAsync();
        try
        {
            run.StopIfRequested(ct);
            using var span = ReconcilerTelemetry.Start("host " + action, run.Env, run.Commit);
            span?.SetTag("reconciler.service", key.Service);
            span?.SetTag("reconciler.host", host);
            await run.Journal.AppendAsync(key, JournalStatus.Started, batch is { } b ? new SwitchDetail(b).ToDetail() : null, CancellationToken.None);
            run.Report(key.Wave, key.Service, host, action, "started");
            try
            {
                var session = await run.Sessions.OpenAsync(driver, run.FindHost(host));
                await work(session);
            }
            catch (Exception e)
            {
                span?.SetStatus(ActivityStatusCode.Error, e.Message);
                await run.Journal.AppendAsync(key, JournalStatus.Failed, e.Message, CancellationToken.None);
                run.Report(key.Wave, key.Service, host, action, "failed: " + e.Message);
                throw e is HostStepException ? e
                    : new HostStepException(host, action, e.Message, e, (e as ReconcilerException)?.Kind ?? FailureKind.EnvironmentFault);
            }
            // Write-behind: stored with the next group, before anything that depends on it (ApplyJournal.AppendBehind).
            run.Journal.AppendBehind(key, JournalStatus.Finished, null);
            run.Report(key.Wave, key.Service, host, action, "finished");
        }
        finally
        {
            run.HostSlots.Release();
        }
    }

    public async Task StageAsync(IHostSession session, ServiceSpec spec)
    {
        // Per-host config (issue 14): a host whose config renders differently stages its own bundle and release id.
        var perHost = _perHost.GetOrAdd(spec, HostConfig.IsPerHost);
        var forHost = perHost ? HostConfig.ForHost(spec, session.Host) : spec;
        var key = perHost ? spec.Name + "\n" + session.Host.Name : spec.Name;
        // Looked up first: the factory's closure would be allocated at every host's stage.
        var bundle = await (_bundles.TryGetValue(key, out var built) ? built
            : _bundles.GetOrAdd(key, _ => new Lazy<Task<ReleaseBundle>>(() => BuildBundleAsync(forHost)))).Value;
        await session.StageAsync(bundle, CancellationToken.None);
    }

    /// <summary>Fetches the artifact and resolves secrets once per service; values live only in memory.</summary>
    private async Task<ReleaseBundle> BuildBundleAsync(ServiceSpec spec)
    {
        var artifact = spec.Artifact with { Url = spec.Artifact.Url.Replace("${version}", spec.Version, StringComparison.Ordinal) };
        var path = await run.Deps.Artifacts.FetchAsync(artifact, CancellationToken.None);
        var config = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in spec.Config)
            config[key] = value switch
            {
                ConfigValue.Literal l => l.Value,
                ConfigValue.Secret s => await run.Secrets.ResolveAsync(s.Reference, CancellationToken.None),
                _ => throw new InvalidOperationException($"unknown config value kind for {key}"),
            };
        return new ReleaseBundle(spec.Name, spec.Deploy.Path, ServiceFields.ReleaseId(spec), path, artifact.Sha256, config.ToImmutable());
    }

    /// <summary>Switches the host to its new release and runs the restart; once that succeeded, keeps
    /// <see cref="DeploySpec.KeepReleases"/> releases, never the new or the previous one (in the same round trip where
    /// the driver can).</summary>
    /// <remarks>The batch's gate has not run yet, so a rollback may still need the release the host ran before, and a
    /// further one the release before that (what live state records as its previous): both are protected as well. When
    /// that is more than <see cref="DeploySpec.KeepReleases"/>, the prune once the service is done still runs for the host,
    /// and leaves the number asked for.</remarks>
    public async Task ActivateAsync(IHostSession session, ServiceChange change, HostChange h, DeploySpec deploy)
    {
        var recorded = run.State.Live.Services.GetValueOrDefault(change.Service)?.Hosts.GetValueOrDefault(h.Host);
        var protect = Protected(h);
        if (recorded?.ActiveRelease == h.FromRelease && recorded?.PreviousRelease is { } before && !protect.Contains(before)) protect = protect.Add(before);
        var warning = await session.ActivateAndPruneAsync(deploy.Path, h.ToRelease!, deploy.RestartCommand, deploy.KeepReleases, protect, CancellationToken.None);
        if (protect.Length <= deploy.KeepReleases) PrunedOn(change.Service)[h.Host] = true;
        // Old releases left on disk cost space, not correctness: report and carry on.
        if (warning is not null) run.Report(change.Wave, change.Service, h.Host, "prune", "warning: " + warning);
    }

    /// <summary>Keeps <see cref="DeploySpec.KeepReleases"/> releases on every host the service now runs on that this run
    /// has not pruned at its activation, never the current or the previous one; hosts in parallel, within --max-parallel.</summary>
    public async Task PruneAsync(ServiceChange change, DeploySpec deploy)
    {
        var pruned = PrunedOn(change.Service);
        var hosts = change.Hosts.Where(h => h.ToRelease is not null && !pruned.ContainsKey(h.Host));
        await Parallel.ForEachAsync(hosts, new ParallelOptions { MaxDegreeOfParallelism = run.MaxParallel }, async (h, _) =>
        {
            try
            {
                var session = await run.Sessions.OpenAsync(deploy.Driver, run.FindHost(h.Host));
                await session.PruneAsync(deploy.Path, deploy.KeepReleases, Protected(h), CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                run.Report(change.Wave, change.Service, h.Host, "prune", "warning: " + e.Message);
            }
        });
    }

    private ConcurrentDictionary<string, bool> PrunedOn(string service) =>
        _pruned.TryGetValue(service, out var hosts) ? hosts : _pruned.GetOrAdd(service, _ => new ConcurrentDictionary<string, bool>(StringComparer.Ordinal));

    private static ImmutableArray<string> Protected(HostChange h) =>
        h.FromRelease is null || h.FromRelease == h.ToRelease ? [h.ToRelease!] : [h.ToRelease!, h.FromRelease];
}
