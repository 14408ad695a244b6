using System.Collections.Immutable;

namespace Reconciler.Execution;

/// <summary>
/// Folds an apply's progress events into what each wave, service and host is doing now, with the times they started
/// and finished taken from the <see cref="TimeProvider"/> (fake time in tests). The terminal's live view and the
/// daemon's status page both read its <see cref="Snapshot"/>, so they tell the same story. Safe to call from several
/// threads (the executor reports from each host step).
/// </summary>
public sealed class ApplyActivity(TimeProvider time) : IProgress<ApplyProgress>
{
    private readonly object _gate = new();
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly SortedDictionary<int, WaveActivity> _waves = [];
    private readonly Dictionary<string, ServiceActivity> _services = new(StringComparer.Ordinal);
    private string _headline = "starting";

    public void Report(ApplyProgress p)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (p is { Step: "wave", Service: null, Wave: > 0 })
                _waves[p.Wave] = p.Status == "started" || !_waves.TryGetValue(p.Wave, out var w) ? new WaveActivity(p.Wave, now, null) : w with { Finished = now };
            if (p.Service is null)
            {
                _headline = p.Wave > 0 ? $"wave {p.Wave}: {p.Step} {p.Status}" : $"{p.Step} {p.Status}";
                return;
            }
            if (!_services.TryGetValue(p.Service, out var service))
                service = new ServiceActivity(p.Service, p.Wave, null, "waiting", now, null, ImmutableSortedDictionary.Create<string, HostActivity>(StringComparer.Ordinal), 0);
            _services[p.Service] = p.Host is { } host ? WithHost(service, host, p, now) : WithService(service, p, now);
        }
    }

    private static ServiceActivity WithService(ServiceActivity s, ApplyProgress p, DateTimeOffset now)
    {
        var next = s with { Wave = p.Wave > 0 ? p.Wave : s.Wave, Batch = p.Batch ?? s.Batch, State = $"{p.Step} {p.Status}" };
        if (p is { Step: "service", Status: "started" }) next = next with { Started = now, Finished = null };
        if (p is { Step: "service", Status: "finished" }) next = next with { Finished = now };
        if (p is { Step: "gate" } && (p.Status == "passed" || p.Status.StartsWith("failed", StringComparison.Ordinal)))
        {
            // The gate's verdict is the service's; the hosts it waited on take it as their state.
            var verdict = p.Status == "passed" ? "passed" : "failed";
            next = next with { Hosts = next.Hosts.SetItems(next.Hosts.Values.Where(h => h is { Step: "gate", Status: "checking" })
                .Select(h => KeyValuePair.Create(h.Host, h with { Status = verdict, Since = now }))) };
        }
        return next;
    }

    private static ServiceActivity WithHost(ServiceActivity s, string host, ApplyProgress p, DateTimeOffset now)
    {
        var since = s.Hosts.TryGetValue(host, out var before) && before.Step == p.Step && before.Status == p.Status ? before.Since : now;
        var changed = p is { Step: "activate" or "remove", Status: "finished" } ? s.HostsChanged + 1 : s.HostsChanged;
        return s with
        {
            Wave = p.Wave > 0 ? p.Wave : s.Wave,
            Batch = p.Batch ?? s.Batch,
            Hosts = s.Hosts.SetItem(host, new HostActivity(host, p.Step, p.Status, p.Gate, since)),
            HostsChanged = changed,
        };
    }

    public ApplySnapshot Snapshot()
    {
        lock (_gate)
            return new ApplySnapshot(_started, time.GetUtcNow(), _headline, [.. _waves.Values],
                [.. _services.Values.OrderBy(s => s.Wave).ThenBy(s => s.Service, StringComparer.Ordinal)]);
    }
}

/// <summary>An apply as its progress told it so far, at <paramref name="At"/>.</summary>
/// <param name="Headline">The last event that named no service (lock, preflight, wave, rollback).</param>
public sealed record ApplySnapshot(DateTimeOffset Started, DateTimeOffset At, string Headline,
    ImmutableArray<WaveActivity> Waves, ImmutableArray<ServiceActivity> Services);

public sealed record WaveActivity(int Wave, DateTimeOffset Started, DateTimeOffset? Finished)
{
    public TimeSpan Elapsed(DateTimeOffset now) => (Finished ?? now) - Started;
}

/// <param name="State">The service's last own event ("gate waiting", "service finished").</param>
/// <param name="HostsChanged">Hosts switched to the new release or cleared of the service.</param>
public sealed record ServiceActivity(string Service, int Wave, int? Batch, string State, DateTimeOffset Started, DateTimeOffset? Finished,
    ImmutableSortedDictionary<string, HostActivity> Hosts, int HostsChanged)
{
    public TimeSpan Elapsed(DateTimeOffset now) => (Finished ?? now) - Started;
}

/// <summary>A host's last step and its status; <paramref name="Gate"/> while its health gate runs.</summary>
/// <param name="Since">When the host entered this step and status.</param>
public sealed record HostActivity(string Host, string Step, string Status, GateProgress? Gate, DateTimeOffset Since);
