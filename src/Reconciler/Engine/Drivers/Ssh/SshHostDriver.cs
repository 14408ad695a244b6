using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Polly;
using Polly.Retry;
using Reconciler.Schema.Model;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Reconciler.Drivers.Ssh;

/// <summary>
/// The ssh driver (SSH.NET): one connection per host, opened on first use and reused for every step; all
/// calls are SSH.NET's async APIs so 50 hosts do not need 50 blocked pool threads. Host keys are verified
/// against HostSpec.HostKey (see <see cref="HostKeyPolicy"/>); authentication is by private key only.
/// </summary>
public sealed partial class SshHostDriver : IHostDriver
{
    private readonly ConcurrentDictionary<string, Lazy<Task<SshHostSession>>> _sessions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _connectSlots;
    private readonly Lazy<IPrivateKeySource> _key;
    private long _uploads;
    private long _reconnects;
    private long _execs;

    public SshHostDriver(SshDriverOptions? options = null)
    {
        Options = options ?? new SshDriverOptions();
        _connectSlots = new SemaphoreSlim(Math.Max(1, Options.MaxConcurrentConnects));
        _key = new Lazy<IPrivateKeySource>(LoadKey);
        // Built on first use: a driver that only opens connections ahead (HostDrivers.Preconnect) never needs it, and
        // Polly validates its options by reflection.
        _reconnectPipeline = new Lazy<ResiliencePipeline>(() => new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SshConnectionLostException>(),
                MaxRetryAttempts = Math.Max(1, Options.ReconnectAttempts),
                Delay = Options.ReconnectDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .Build());
    }

    private readonly Lazy<ResiliencePipeline> _reconnectPipeline;

    /// <summary>Runs a session's step again on a new connection when its connection dropped (bounded, with backoff).</summary>
    internal ResiliencePipeline ReconnectPipeline => _reconnectPipeline.Value;

    /// <summary>Connections reopened after they dropped mid-step, over this driver's life (the soak benchmark reports it).</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    internal void CountReconnect()
    {
        Interlocked.Increment(ref _reconnects);
        Telemetry.ReconcilerTelemetry.SshReconnects.Add(1);
    }

    public DriverKind Kind => DriverKind.Ssh;

    public SshDriverOptions Options { get; }

    /// <summary>Artifacts uploaded by this driver so far (tests assert that a staged release is not re-sent).</summary>
    public long Uploads => Interlocked.Read(ref _uploads);

    internal void CountUpload() => Interlocked.Increment(ref _uploads);

    /// <summary>Exec channels opened by this driver's sessions so far (the cost per host the live probe's fast path cuts).</summary>
    public long Execs => Interlocked.Read(ref _execs);

    internal void CountExec() => Interlocked.Increment(ref _execs);

    public async Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct)
    {
        var lazy = _sessions.GetOrAdd(host.Name, _ => new Lazy<Task<SshHostSession>>(() => ConnectSessionAsync(host, ct)));
        try
        {
            // A session whose connection dropped since reopens it itself, at its next step.
            return await lazy.Value;
        }
        catch
        {
            // Let a later step retry the connection instead of caching the failure forever.
            _sessions.TryRemove(new KeyValuePair<string, Lazy<Task<SshHostSession>>>(host.Name, lazy));
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        var open = _sessions.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully).Select(l => l.Value.Result).ToList();
        _sessions.Clear();
        await Task.WhenAll(open.Select(s => s.DisposeAsync().AsTask()));
        _connectSlots.Dispose();
    }

    /// <summary>A session's first connection: the one opened ahead for this host (<see cref="SshDriverOptions.Warm"/>), else a new one.</summary>
    private async Task<SshHostSession> ConnectSessionAsync(HostSpec host, CancellationToken ct) =>
        new(this, host, await (Options.Warm?.Take(host) ?? ConnectClientAsync(host, ct)));

    /// <summary>Starts opening connections to these hosts ahead of their first step, into <see cref="SshDriverOptions.Warm"/>.</summary>
    public void Preconnect(IEnumerable<HostSpec> hosts) => Options.Warm?.Start(hosts, ConnectClientAsync);

    /// <summary>A new, connected SSH client for the host (the session's first connection, or one that replaces a dropped one).</summary>
    internal async Task<SshClient> ConnectClientAsync(HostSpec host, CancellationToken ct)
    {
        var ssh = new SshClient(ConnectionInfoFor(host));
        try
        {
            await ConnectAsync(ssh, host, "connect", ct);
            return ssh;
        }
        catch
        {
            ssh.Dispose();
            throw;
        }
    }

    /// <summary>Opens the SFTP connection of a session (a second handshake; see <see cref="SshUpload.Sftp"/>).</summary>
    internal async Task<SftpClient> ConnectSftpAsync(HostSpec host, CancellationToken ct)
    {
        var sftp = new SftpClient(ConnectionInfoFor(host));
        try
        {
            await ConnectAsync(sftp, host, "sftp connect", ct);
            return sftp;
        }
        catch
        {
            sftp.Dispose();
            throw;
        }
    }

    private ConnectionInfo ConnectionInfoFor(HostSpec host)
    {
        if (!HostAddressPattern().IsMatch(host.Address))
            throw new HostStepException(host.Name, "connect", $"refusing unsafe host address '{ReleaseLayout.Printable(host.Address)}'");
        if (host.Port is < 1 or > 65535)
            throw new HostStepException(host.Name, "connect", $"port {host.Port} is out of range 1-65535");
        var info = new ConnectionInfo(host.Address, host.Port, host.User, new PrivateKeyAuthenticationMethod(host.User, _key.Value))
        {
            Timeout = Options.ConnectTimeout,
        };
        PreferKeyExchange(info, Options.PreferredKeyExchange);
        // With a full key pinned, offer only that key's algorithms so a server with several host keys presents
        // the pinned one (a fingerprint pin does not say which type it is).
        if (HostKeyPolicy.PinnedKeyType(host.HostKey) is { } type)
        {
            var wanted = type == "ssh-rsa" ? new[] { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" } : [type];
            if (info.HostKeyAlgorithms.Keys.Any(wanted.Contains))
                foreach (var name in info.HostKeyAlgorithms.Keys.Where(k => !wanted.Contains(k)).ToList())
                    info.HostKeyAlgorithms.Remove(name);
        }
        return info;
    }

    /// <summary>Moves the named key exchange algorithms to the front, in that order; the rest keep SSH.NET's order.
    /// The client's order decides (RFC 4253 7.1), so this picks what both sides support earliest in the list.</summary>
    private static void PreferKeyExchange(ConnectionInfo info, IReadOnlyList<string> preferred)
    {
        var all = info.KeyExchangeAlgorithms.ToList();
        info.KeyExchangeAlgorithms.Clear();
        foreach (var name in preferred)
            if (all.FirstOrDefault(a => a.Key == name) is { Value: not null } entry) info.KeyExchangeAlgorithms.Add(entry.Key, entry.Value);
        foreach (var entry in all.Where(a => !info.KeyExchangeAlgorithms.ContainsKey(a.Key)))
            info.KeyExchangeAlgorithms.Add(entry.Key, entry.Value);
    }

    private async Task ConnectAsync(BaseClient client, HostSpec host, string step, CancellationToken ct)
    {
        HostKeyPolicy.Verdict? verdict = null;
        client.HostKeyReceived += (_, e) =>
        {
            verdict = HostKeyPolicy.Check(host, e.HostKey, Options.TrustUnknownHostKeys);
            e.CanTrust = verdict.Accept;
        };
        client.KeepAliveInterval = Options.KeepAliveInterval;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.ConnectTimeout);
        await _connectSlots.WaitAsync(ct);
        try
        {
            await client.ConnectAsync(timeout.Token);
        }
        catch (Exception e) when (verdict is { Accept: false })
        {
            throw new HostStepException(host.Name, step, verdict.Refusal!, e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new HostStepException(host.Name, step,
                $"timed out after {Options.ConnectTimeout.TotalSeconds:0.#}s connecting to {host.Address}:{host.Port} (host down or port filtered?)", e);
        }
        catch (SshOperationTimeoutException e)
        {
            throw new HostStepException(host.Name, step,
                $"timed out after {Options.ConnectTimeout.TotalSeconds:0.#}s connecting to {host.Address}:{host.Port} (host down or port filtered?)", e);
        }
        catch (SocketException e)
        {
            var what = e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused (is sshd running and listening on that port?)",
                SocketError.HostNotFound or SocketError.NoData => "host name not found",
                SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
                SocketError.TimedOut => "connection timed out",
                _ => SshErrors.Describe(e),
            };
            throw new HostStepException(host.Name, step, $"cannot connect to {host.Address}:{host.Port}: {what}", e);
        }
        catch (SshAuthenticationException e)
        {
            throw new HostStepException(host.Name, step,
                $"authentication as '{host.User}' with key {Options.PrivateKeyPath} was rejected ({e.Message.Trim().TrimEnd('.')}); " +
                "add its public key to the user's authorized_keys on the host, or pass the right --ssh-key", e);
        }
        catch (SshConnectionException e)
        {
            throw new HostStepException(host.Name, step, $"SSH connection to {host.Address}:{host.Port} failed: {SshErrors.Describe(e)}", e);
        }
        catch (ProxyException e)
        {
            throw new HostStepException(host.Name, step, SshErrors.Describe(e), e);
        }
        finally
        {
            _connectSlots.Release();
        }
        if (verdict is { TrustedUnknown: true })
            Options.Warn($"WARNING: TRUSTING UNKNOWN HOST KEY of {host.Name} ({host.Address}:{host.Port}) because of " +
                         "--trust-unknown-host-keys. Anyone able to intercept this connection now controls the deploy. " +
                         "Pin the host key in the environment file.");
    }

    private IPrivateKeySource LoadKey()
    {
        var path = Options.PrivateKeyPath;
        if (!File.Exists(path))
            throw new ReconcilerException(FailureKind.EnvironmentFault, $"SSH private key not found at {path}: pass --ssh-key PATH or set {SshDriverOptions.KeyEnvironmentVariable}");
        try
        {
            return Options.PrivateKeyPassphrase is { Length: > 0 } passphrase ? new PrivateKeyFile(path, passphrase) : new PrivateKeyFile(path);
        }
        catch (Exception e) when (e is SshException or SshPassPhraseNullOrEmptyException or InvalidOperationException or ArgumentException or IOException)
        {
            throw new ReconcilerException(FailureKind.EnvironmentFault, $"cannot read SSH private key {path}: {e.Message} (OpenSSH or PEM format; a passphrase goes in " +
                                $"{SshDriverOptions.PassphraseEnvironmentVariable})");
        }
    }

    // Hostname (RFC 1123 labels), IPv4 or IPv6 literal: nothing a resolver or a log line could misread.
    [GeneratedRegex("^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9A-Fa-f:.]{2,45}$",
        RegexOptions.CultureInvariant)]
    private static partial Regex HostAddressPattern();
}
