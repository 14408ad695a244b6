using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>Live state as this apply has written it. Writes go one at a time, each a compare-and-set on the version the
/// previous one produced: parallel services of a wave never lose each other's writes.</summary>
internal sealed class LiveStateWriter(IStateStore store, string environment, string commit, LiveState current)
{
    private readonly SemaphoreSlim _writing = new(1, 1);

    public LiveState Live { get; private set; } = current;

    public async Task WriteAsync(StateChange change)
    {
        await _writing.WaitAsync();
        try { await WriteLockedAsync(change); }
        finally { _writing.Release(); }
    }

    /// <summary>Records the hosts of one batch. The service header (version, fields) changes with the last batch; until
    /// then it still names what most of the fleet runs, and the hosts say exactly which ones moved.</summary>
    public async Task WriteBatchAsync(ServiceSpec spec, ImmutableArray<HostChange> batch, bool last)
    {
        await _writing.WaitAsync();
        try
        {
            var current = Live.Services.GetValueOrDefault(spec.Name);
            var hosts = (current?.Hosts ?? ImmutableSortedDictionary<string, LiveHost>.Empty.WithComparers(StringComparer.Ordinal)).ToBuilder();
            foreach (var h in batch)
            {
                if (h.ToRelease is null) { hosts.Remove(h.Host); continue; }
                var previous = h.FromRelease != h.ToRelease ? h.FromRelease : hosts.GetValueOrDefault(h.Host)?.PreviousRelease;
                hosts[h.Host] = new LiveHost(h.Host, h.ToRelease, previous);
            }
            var header = last || current is null
                ? new LiveService(spec.Name, spec.Version, ServiceFields.ReleaseId(spec), ServiceFields.ConfigHash(spec), commit,
                    spec.DependsOn, ServiceFields.Flatten(spec), hosts.ToImmutable())
                : current with { Hosts = hosts.ToImmutable() };
            await WriteLockedAsync(new StateChange([header with { Hosts = hosts.ToImmutable() }], [], [], []));
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Records what some hosts of a service run now (or that it is unknown), outside a batch's own write: after a
    /// halt or a rollback that did not complete. A service with no entry yet gets its header from <paramref name="spec"/>.</summary>
    public async Task WriteHostsAsync(string service, ServiceSpec? spec, IReadOnlyCollection<LiveHost> hosts)
    {
        if (hosts.Count == 0) return;
        await _writing.WaitAsync();
        try
        {
            var current = Live.Services.GetValueOrDefault(service);
            if (current is null && spec is null) return;   // nothing to hang the hosts on (the service left the commit)
            var merged = (current?.Hosts ?? ImmutableSortedDictionary<string, LiveHost>.Empty.WithComparers(StringComparer.Ordinal))
                .SetItems(hosts.Select(h => KeyValuePair.Create(h.Host, h)));
            var entry = current is not null ? current with { Hosts = merged }
                : new LiveService(spec!.Name, spec.Version, ServiceFields.ReleaseId(spec), ServiceFields.ConfigHash(spec), commit,
                    spec.DependsOn, ServiceFields.Flatten(spec), merged);
            await WriteLockedAsync(new StateChange([entry], [], [], []));
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task WriteLockedAsync(StateChange change)
    {
        var live = Live;
        var version = await store.WriteAsync(environment, live.Version, change, CancellationToken.None);
        Live = live with
        {
            Version = version,
            Services = live.Services.SetItems(change.UpsertServices.Select(s => KeyValuePair.Create(s.Name, s))).RemoveRange(change.RemoveServices),
            Toggles = live.Toggles.SetItems(change.UpsertToggles.Select(t => KeyValuePair.Create(t.Name, t))).RemoveRange(change.RemoveToggles),
            LastGoodCommit = change.LastGoodCommit ?? live.LastGoodCommit,
        };
    }
}
