namespace Reconciler.Drivers.Ssh;

/// <summary>How artifacts travel to a host when they are not there yet.</summary>
public enum SshUpload
{
    /// <summary>SFTP (SSH.NET SftpClient). SSH.NET cannot open SFTP on an existing connection, so this costs a
    /// second SSH handshake per host that needs an upload.</summary>
    Sftp,

    /// <summary>Streamed to `cat` on an exec channel of the host's one connection (what `ssh host 'cat > f' &lt; f`
    /// does). No second handshake.</summary>
    Exec,
}

public sealed record SshDriverOptions
{
    public const string KeyEnvironmentVariable = "RECONCILER_SSH_KEY";
    public const string PassphraseEnvironmentVariable = "RECONCILER_SSH_KEY_PASSPHRASE";

    /// <summary>Private key for every host (--ssh-key, else $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519).</summary>
    public string PrivateKeyPath { get; init; } = DefaultPrivateKeyPath();

    /// <summary>Passphrase of the private key, if it has one ($RECONCILER_SSH_KEY_PASSPHRASE).</summary>
    public string? PrivateKeyPassphrase { get; init; } = Environment.GetEnvironmentVariable(PassphraseEnvironmentVariable);

    /// <summary>--trust-unknown-host-keys: accept a host whose key is not pinned (a mismatch is still refused).
    /// Every such host is reported through <see cref="Warn"/>.</summary>
    public bool TrustUnknownHostKeys { get; init; }

    /// <summary>Upper bound for one handshake (TCP connect, key exchange, authentication).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>SSH keepalives on every connection, so a connection that died quietly (NAT, a host that hangs) is noticed
    /// between steps instead of by the next step's timeout.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often a connection that drops mid-step is reopened for that step (then the step fails, naming the
    /// host); the waits between attempts grow from <see cref="ReconnectDelay"/>, with jitter.</summary>
    public int ReconnectAttempts { get; init; } = 3;

    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Upper bound for one driver step on a host (unpack, restart command...).</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Handshakes in flight at once; open connections are not limited (the executor's batches are).</summary>
    public int MaxConcurrentConnects { get; init; } = 64;

    public SshUpload Upload { get; init; } = SshUpload.Exec;

    /// <summary>Key exchange algorithms tried first, in order (the rest follow in SSH.NET's order). Default: the
    /// ML-KEM hybrid (post-quantum, cheap) where the server has it (OpenSSH 9.9+), else curve25519. The
    /// sntrup761 hybrid comes after them: SSH.NET's managed sntrup761 costs ~85 ms of client CPU per handshake
    /// against ~8 ms for curve25519 (measured here), which is most of the cost of connecting to 50 hosts.</summary>
    public IReadOnlyList<string> PreferredKeyExchange { get; init; } =
        ["mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org"];

    /// <summary>Connections opened ahead of the first step (<see cref="SshHostDriver.Preconnect"/>); the first session on a
    /// host takes its connection from here. Null: every session connects when it is first used.</summary>
    public SshWarmConnections? Warm { get; init; }

    /// <summary>Where loud warnings go (trusting an unknown host key). The engine has no console: HostDrivers passes
    /// its own, which ExecutorWiring points at the caller's warnings writer (the CLI's stderr).</summary>
    public Action<string> Warn { get; init; } = static _ => { };

    public static string DefaultPrivateKeyPath() =>
        Environment.GetEnvironmentVariable(KeyEnvironmentVariable) is { Length: > 0 } fromEnv
            ? fromEnv
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "id_ed25519");
}
