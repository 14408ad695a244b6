using System.Collections.Concurrent;
using Reconciler.Schema.Model;
using Renci.SshNet;

namespace Reconciler.Drivers.Ssh;

/// <summary>
/// SSH connections opened ahead of a command's first step on a host, while the CLI still loads, plans and reads the store
/// (issues 13 and 17: a handshake is ~5 ms of our CPU and ~40 ms of the host's, and otherwise starts only after all of
/// that). Only the connection is made (TCP, key exchange with the same host key check, authentication): no command runs
/// before a step asks for one. The first session a driver opens on the host takes the connection, or the failure to make
/// it, exactly as its own connect would have ended (<see cref="SshHostDriver"/>); a connection nobody takes is closed
/// when this is disposed.
/// </summary>
public sealed class SshWarmConnections : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Task<SshClient>> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private int _disposed;

    /// <summary>Starts connecting to each host not started yet (returns at once).</summary>
    internal void Start(IEnumerable<HostSpec> hosts, Func<HostSpec, CancellationToken, Task<SshClient>> connect)
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        foreach (var host in hosts)
            _pending.GetOrAdd(Key(host), _ => Task.Run(() => connect(host, _stop.Token)));
    }

    /// <summary>The connection started for this host (at most once), or null when none was.</summary>
    internal Task<SshClient>? Take(HostSpec host) => _pending.TryRemove(Key(host), out var pending) ? pending : null;

    /// <summary>Hosts started and not taken yet (tests).</summary>
    internal int Pending => _pending.Count;

    // Everything the connection depends on: the same name with another address, port, user or pinned key is another host.
    private static string Key(HostSpec host) => string.Join('\n', host.Name, host.Address, host.Port, host.User, host.HostKey ?? "");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync();
        var left = _pending.Values.ToList();
        _pending.Clear();
        foreach (var pending in left)
        {
            try { (await pending).Dispose(); }
            catch (Exception) { /* a connection that failed or was cancelled: nothing to close, and no step asked for it */ }
        }
        _stop.Dispose();
    }
}
