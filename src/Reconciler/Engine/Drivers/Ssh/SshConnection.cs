using Reconciler.Schema.Model;
using Renci.SshNet;

namespace Reconciler.Drivers.Ssh;

/// <summary>
/// A host's SSH client that is replaced when it drops. Each attempt of a step takes <see cref="Current"/> (the client and
/// which connection it is); a step that sees its connection drop throws <see cref="Lost"/>, and <see cref="RunAsync"/>
/// runs the whole step again on a new connection (the driver's Polly retry pipeline: bounded, with backoff and
/// jitter). Several steps that saw the same connection drop reopen it once.
/// </summary>
internal sealed class SshConnection(SshHostDriver driver, HostSpec host, SshClient first) : IDisposable
{
    private readonly SemaphoreSlim _reconnectGate = new(1, 1);
    private SshClient _client = first;
    private int _generation = 1;    // which connection _client is (1, 2, ...); a step that lost one names it
    private int _lostGeneration;    // the newest connection a step saw drop

    public bool IsConnected => _client.IsConnected;

    public (SshClient Client, int Generation) Current => (_client, _generation);

    /// <summary>Runs one step (every attempt on a connection that is up); a dropped connection is reopened and the step
    /// run again; when the reconnects are used up the step fails naming the host and the last cause.</summary>
    public async Task<T> RunAsync<T>(string step, Func<Task<T>> attempt, CancellationToken ct)
    {
        try
        {
            return await driver.ReconnectPipeline.ExecuteAsync(async token =>
            {
                await EnsureConnectedAsync(token);
                return await attempt();
            }, ct);
        }
        catch (SshConnectionLostException e)
        {
            throw new HostStepException(host.Name, step,
                $"the connection to {host.Address}:{host.Port} was lost and {driver.Options.ReconnectAttempts} reconnect attempt(s) did not bring it back: {e.Message}",
                e.InnerException, FailureKind.EnvironmentFault);
        }
    }

    /// <summary>Reopens the connection when a step saw the current one drop (once, however many steps saw it).</summary>
    private async Task EnsureConnectedAsync(CancellationToken ct)
    {
        if (_lostGeneration != _generation && _client.IsConnected) return;
        await _reconnectGate.WaitAsync(ct);
        try
        {
            if (_lostGeneration != _generation && _client.IsConnected) return;
            var old = _client;
            try
            {
                _client = await driver.ConnectClientAsync(host, ct);
            }
            catch (HostStepException e)
            {
                throw new SshConnectionLostException("reconnecting: " + e.Message, e);
            }
            _generation++;
            driver.CountReconnect();
            await Task.Run(old.Dispose, CancellationToken.None);
        }
        finally
        {
            _reconnectGate.Release();
        }
    }

    /// <summary>The exception a step throws when connection <paramref name="generation"/> dropped under it.</summary>
    public SshConnectionLostException Lost(int generation, Exception cause)
    {
        InterlockedMax(ref _lostGeneration, generation);
        return new SshConnectionLostException(SshErrors.Describe(cause), cause);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    public void Dispose()
    {
        _client.Dispose();
        _reconnectGate.Dispose();
    }
}
