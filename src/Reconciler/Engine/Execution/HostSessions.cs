using System.Collections.Concurrent;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>The drivers and host sessions of one apply: one driver per kind, one session per host and driver, opened on
/// first use and shared by every step (connections are the cost to minimise). Every session is handed out through
/// <paramref name="wrap"/> (the run's output cleaning). Disposing closes the drivers.</summary>
internal sealed class HostSessions(Func<DriverKind, IHostDriver> createDriver, Func<IHostSession, IHostSession> wrap) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<DriverKind, IHostDriver> _drivers = new();
    // One table per driver kind, keyed by host name: every host step looks its session up, and a (kind, name) key hashed
    // the name with the randomized string hash, where a string key on the ordinal comparer does not.
    private readonly ConcurrentDictionary<string, Lazy<Task<IHostSession>>>[] _sessions =
        [.. Enumerable.Range(0, (int)Enum.GetValues<DriverKind>().Max() + 1).Select(_ => new ConcurrentDictionary<string, Lazy<Task<IHostSession>>>(StringComparer.Ordinal))];

    /// <remarks>Looked up before adding: every step of a host asks, and the factory's closure would be allocated each time.</remarks>
    public Task<IHostSession> OpenAsync(DriverKind kind, HostSpec host)
    {
        var sessions = _sessions[(int)kind];
        return (sessions.TryGetValue(host.Name, out var opened) ? opened
            : sessions.GetOrAdd(host.Name, _ => new Lazy<Task<IHostSession>>(async () =>
                wrap(await _drivers.GetOrAdd(kind, createDriver).OpenAsync(host, CancellationToken.None))))).Value;
    }

    public async ValueTask DisposeAsync()
    {
        var drivers = _drivers.Values.ToList();
        _drivers.Clear();
        foreach (var sessions in _sessions) sessions.Clear();
        foreach (var driver in drivers)
        {
            try { await driver.DisposeAsync(); }
            catch (Exception) { /* closing a connection must not hide the apply's result */ }
        }
    }
}
