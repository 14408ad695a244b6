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
/// hosts, and pruning old releases once a service is done.</summary>
internal sealed class HostSteps(ApplyContext run)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<ReleaseBundle>>> _bundles = new(StringComparer.Ordinal);

    /// <summary>One host step: skipped when journaled Finished; otherwise journaled around the work. The work itself is
    /// not cancelled: a host is never left between two steps inconsistent with the journal. A switch journals the batch
    /// it belongs to (<see cref="SwitchDetail"/>), so a repair knows which batch's state write covers it.</summary>
    public async Task RunAsync(StepKey key, DriverKind driver, CancellationToken ct, Func<IHostSession, Task> work, int? batch = null)
    {
        if (run.Journal.IsFinished(key)) return;
        var (host, action) = (key.Host!, key.HostAction);
        await run.HostSlots.WaitAsync(ct);
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
            await run.Journal.AppendAsync(key, JournalStatus.Finished, null, CancellationToken.None);
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
        var forHost = HostConfig.ForHost(spec, session.Host);
        var key = ReferenceEquals(forHost, spec) ? spec.Name : spec.Name + "\n" + session.Host.Name;
        var bundle = await _bundles.GetOrAdd(key, _ => new Lazy<Task<ReleaseBundle>>(() => BuildBundleAsync(forHost))).Value;
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

    /// <summary>Keeps <see cref="DeploySpec.KeepReleases"/> releases on every host the service now runs on, never the
    /// current or the previous one.</summary>
    public async Task PruneAsync(ServiceChange change, DeploySpec deploy)
    {
        foreach (var h in change.Hosts.Where(h => h.ToRelease is not null))
        {
            try
            {
                var session = await run.Sessions.OpenAsync(deploy.Driver, run.FindHost(h.Host));
                ImmutableArray<string> protect = h.FromRelease is null ? [h.ToRelease!] : [h.ToRelease!, h.FromRelease];
                await session.PruneAsync(deploy.Path, deploy.KeepReleases, protect, CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Old releases left on disk cost space, not correctness: report and carry on.
                run.Report(change.Wave, change.Service, h.Host, "prune", "warning: " + e.Message);
            }
        }
    }
}
