using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.Telemetry;

namespace Reconciler.Live;

/// <param name="HostTimeout">How long one host may take to answer for all its services (connect, inspect, checks);
/// after it the host is reported unreachable and the probe moves on.</param>
/// <param name="MaxParallel">Hosts asked at once.</param>
/// <param name="OneExecPerHost">Ask each host everything in one round trip where its driver can (<see cref="LiveSurvey"/>);
/// false asks call by call (the path every driver has, kept as the reference the fast path is tested against).</param>
public sealed record LiveProbeOptions(TimeSpan HostTimeout, int MaxParallel, bool OneExecPerHost = true)
{
    public static LiveProbeOptions Default { get; } = new(TimeSpan.FromSeconds(5), 32);
}

/// <summary>
/// One live look at every host of an environment (issue 13): for each service the repo or the store puts on a host, where
/// `current` points, whether the recorded release is intact, and whether the service's health checks pass, each check run
/// once. Hosts are asked in bounded parallel, each over the one session the drivers keep per host (output cleaned of
/// secrets like an apply's, <see cref="ApplyContext.Cleaned"/>), each within <see cref="LiveProbeOptions.HostTimeout"/>.
/// Changes nothing on any host. What differs from the store is classified by <see cref="DriftRules"/>.
/// </summary>
public sealed class LiveProbe(ExecutorDependencies deps, LiveProbeOptions? options = null) : Daemon.ILiveObserver
{
    private readonly LiveProbeOptions _options = options ?? LiveProbeOptions.Default;

    public async Task<ObservedState> ObserveAsync(DesiredState desired, Diff.Live.LiveState live, CancellationToken ct)
    {
        var started = deps.Time.GetTimestamp();
        var at = deps.Time.GetUtcNow();
        using var span = ReconcilerTelemetry.Start("observe", desired.Environment, desired.Revision);
        var secrets = new RunSecrets(deps.Secrets, desired);
        var probe = new CleanedProbe(deps.Probe, secrets);
        var targets = ProbeTargets.Of(desired, live);
        var results = new List<ObservedHost>[targets.Count];
        using var slots = new SemaphoreSlim(Math.Max(1, _options.MaxParallel));
        await using (var sessions = ApplyContext.Cleaned(deps, secrets))
        {
            await Task.WhenAll(targets.Select(async (host, i) =>
            {
                await slots.WaitAsync(ct);
                try
                {
                    results[i] = await ObserveHostAsync(host, sessions, probe, ct);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }
        var hosts = results.SelectMany(r => r)
            .OrderBy(h => h.Service, StringComparer.Ordinal).ThenBy(h => h.Host, StringComparer.Ordinal).ToImmutableArray();
        var observed = new ObservedState(desired.Environment, at, deps.Time.GetElapsedTime(started), hosts);
        LiveMetrics.Record(observed);
        return observed;
    }

    /// <summary>Every service of one host, one after the other on its session, within the host's deadline. A host that
    /// cannot be reached in time is unreachable for all of them (the work left running is abandoned: it changes nothing).</summary>
    private async Task<List<ObservedHost>> ObserveHostAsync(ProbeTargets.Host host, HostSessions sessions, IHealthProbe probe, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.HostTimeout);
        var results = new List<ObservedHost>(host.Services.Count);
        var work = Task.Run(async () =>
        {
            foreach (var group in host.Services.GroupBy(t => t.Driver))
            {
                var targets = group.ToList();
                // Started once for the group; each service meets its failure as it would meet its own inspect's.
                var survey = _options.OneExecPerHost ? LiveSurvey.AskAsync(sessions, host.Spec, targets, deadline.Token) : null;
                for (var i = 0; i < targets.Count; i++)
                {
                    var observed = await ObserveServiceAsync(host.Spec, targets[i], sessions, probe, survey, i, deadline.Token);
                    lock (results) results.Add(observed);
                }
            }
        }, CancellationToken.None);
        try
        {
            await work.WaitAsync(_options.HostTimeout, deps.Time, ct);
            return results;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            var why = $"no answer within {_options.HostTimeout.TotalSeconds:0.#}s";
            lock (results)
                return [.. results, .. host.Services.Where(t => results.All(r => r.Service != t.Service)).Select(t => Unreachable(host.Spec, t, why))];
        }
    }

    /// <param name="survey">The host's survey (null: ask call by call); <paramref name="index"/> is this service's answer in it.</param>
    private static async Task<ObservedHost> ObserveServiceAsync(HostSpec host, ProbeTarget target, HostSessions sessions, IHealthProbe probe,
        Task<IReadOnlyList<SurveyedService>?>? survey, int index, CancellationToken ct)
    {
        IHostSession session;
        HostReleases found;
        string? damagedBecause = null;
        try
        {
            session = await sessions.OpenAsync(target.Driver, host).WaitAsync(ct);
            var surveyed = survey is null ? null : (await survey.WaitAsync(ct))?[index];
            if (surveyed is not null) session = new AnsweredSession(session, surveyed.Checks);
            found = surveyed?.Found ?? await session.InspectAsync(target.Path, ct);
            if (target.Recorded is { } recorded && !found.Releases.Contains(recorded) && !(found.Current is null && found.Releases.IsDefaultOrEmpty))
                damagedBecause = await DamageAsync(session, target, recorded, surveyed?.ReleaseDirPresent, ct);
        }
        catch (Exception e) when (e is HostStepException or ReconcilerException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return Unreachable(host, target, e is OperationCanceledException ? "no answer in time" : e.Message);
        }
        catch (OperationCanceledException)
        {
            return Unreachable(host, target, "no answer in time");
        }

        var (health, healthDetail) = found.Current is null ? (HostHealth.NotChecked, null) : await HealthAsync(host, target, found.Current, session, probe, ct);
        var drift = DriftRules.Classify(target.Recorded, found, damagedBecause is not null, health);
        var detail = DriftRules.Describe(target.Recorded, found, damagedBecause, healthDetail);
        return new ObservedHost(target.Service, host.Name, target.Desired, target.Recorded, found.Current, health, drift, detail);
    }

    /// <summary>Whether the damage check applies to the target at all: only drivers that run commands, only a valid release id.</summary>
    internal static bool AsksForDamage(ProbeTarget target) =>
        target.Driver != DriverKind.ConsulKv && target.Recorded is { } recorded && ReleaseLayout.IsValidReleaseId(recorded);

    /// <summary>The recorded release is not listed as complete (its marker is gone or names another artifact): is its
    /// directory still there (damaged) or gone (missing)? Asked only then (<paramref name="surveyed"/>: the survey's answer).</summary>
    private static async Task<string?> DamageAsync(IHostSession session, ProbeTarget target, string recorded, bool? surveyed, CancellationToken ct)
    {
        if (!AsksForDamage(target)) return null;
        var present = surveyed ?? await ReleaseDirPresentAsync(session, target, recorded, ct);
        return present ? $"releases/{recorded} is there but its marker {ReleaseLayout.MarkerFile} is missing or does not match" : null;
    }

    private static async Task<bool> ReleaseDirPresentAsync(IHostSession session, ProbeTarget target, string recorded, CancellationToken ct)
    {
        var dir = $"{session.PathOnHost(target.Path)}/{ReleaseLayout.ReleaseLinkTarget(recorded)}";
        var result = await session.RunAsync(Shell.Script("[ -d \"$1\" ] && echo present || true", dir), TimeSpan.FromSeconds(10), ct);
        return result.Output.Trim() == "present";
    }

    private static async Task<(HostHealth, string?)> HealthAsync(HostSpec host, ProbeTarget target, string current, IHostSession session,
        IHealthProbe probe, CancellationToken ct)
    {
        if (target.Health is not { Checks.IsDefaultOrEmpty: false } health) return (HostHealth.NotChecked, null);
        var context = new ProbeContext(target.Service, current, host, session, session.PathOnHost(target.Path));
        foreach (var check in health.Checks)
        {
            var result = await probe.ProbeAsync(check, context, ct);
            if (!result.Healthy) return (HostHealth.Unhealthy, result.Detail);
        }
        return (HostHealth.Healthy, null);
    }

    private static ObservedHost Unreachable(HostSpec host, ProbeTarget target, string why) =>
        new(target.Service, host.Name, target.Desired, target.Recorded, null, HostHealth.Unreachable,
            target.Recorded is null ? [] : [DriftKind.Unreachable], why);
}
