using System.Net.Http;
using Reconciler.Consul;
using Reconciler.Drivers.Artifacts;
using Reconciler.Drivers.ConsulKv;
using Reconciler.Drivers.Health;
using Reconciler.Drivers.Local;
using Reconciler.Drivers.Secrets;
using Reconciler.Drivers.Ssh;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers;

/// <summary>Everything the drivers need from the command line and the repo.</summary>
public sealed record HostDriverOptions
{
    /// <summary>--ssh-key; null = $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519.</summary>
    public string? SshKeyPath { get; init; }

    /// <summary>--trust-unknown-host-keys (said loudly through <see cref="Warn"/> for every such host).</summary>
    public bool TrustUnknownHostKeys { get; init; }

    /// <summary>Root of the local driver's hosts; the CLI passes REPO/.reconciler/local.</summary>
    public required string LocalRoot { get; init; }

    /// <summary>SSH handshakes in flight at once.</summary>
    public int MaxConcurrentConnects { get; init; } = 64;

    public SshUpload SshUpload { get; init; } = SshUpload.Exec;

    /// <summary>For the consul-kv driver (and consul checks/secrets): the Consul client, the environment being
    /// applied and the state prefix the driver keeps its staged releases under.</summary>
    public ConsulClient? Consul { get; init; }

    public string? Environment { get; init; }

    public string ConsulPrefix { get; init; } = "reconciler";

    /// <summary>Where the drivers' warnings go; the engine has no console (ExecutorWiring passes the caller's writer).</summary>
    public Action<string> Warn { get; init; } = static _ => { };
}

/// <summary>
/// The factory the executor calls: <c>Create(kind)</c> returns a new driver (the caller disposes it; one per apply
/// so connections are reused across all steps of that apply). Also builds the probe, fetcher and resolver.
/// <see cref="Preconnect"/> opens SSH connections ahead of the first step, which the ssh drivers it creates then take;
/// disposing closes those no driver took.
/// </summary>
public sealed class HostDrivers(HostDriverOptions options) : IAsyncDisposable
{
    private readonly SshWarmConnections _warm = new();
    private readonly Lazy<SshHostDriver> _connector = new(() => new SshHostDriver(SshOptions(options, null)));

    public HostDriverOptions Options { get; } = options;

    public IHostDriver Create(DriverKind kind) => kind switch
    {
        DriverKind.Ssh => new SshHostDriver(SshOptions(Options, _warm)),
        DriverKind.Local => new LocalHostDriver(new LocalDriverOptions { LocalRoot = Options.LocalRoot }),
        DriverKind.ConsulKv => Options is { Consul: { } consul, Environment: { } environment }
            ? new ConsulKvDriver(new ConsulKvDriverOptions { Consul = consul, Environment = environment, Prefix = Options.ConsulPrefix })
            : throw new ReconcilerException(FailureKind.EnvironmentFault, "the consul-kv driver needs a Consul address: set CONSUL_HTTP_ADDR to the agent, e.g. http://127.0.0.1:8500"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Starts the SSH connections (handshake and authentication, no command) to hosts a command is about to ask
    /// for, while it does its other work (<see cref="SshWarmConnections"/>). Returns at once.</summary>
    public void Preconnect(IEnumerable<HostSpec> sshHosts) => _warm.Start(sshHosts, _connector.Value.ConnectClientAsync);

    private static SshDriverOptions SshOptions(HostDriverOptions options, SshWarmConnections? warm) => new()
    {
        PrivateKeyPath = options.SshKeyPath ?? SshDriverOptions.DefaultPrivateKeyPath(),
        TrustUnknownHostKeys = options.TrustUnknownHostKeys,
        MaxConcurrentConnects = options.MaxConcurrentConnects,
        Upload = options.SshUpload,
        Warn = options.Warn,
        Warm = warm,
    };

    public async ValueTask DisposeAsync()
    {
        await _warm.DisposeAsync();
        if (_connector.IsValueCreated) await _connector.Value.DisposeAsync();
    }

    /// <summary>http, tcp, command and (when Consul is configured) consul checks.</summary>
    public static IHealthProbe Probes(HttpClient http, ConsulClient? consul = null) =>
        new HealthProbes(new HttpProbe(http), new TcpProbe(), new CommandProbe(), consul is null ? null : new ConsulHealthProbe(consul));

    /// <summary>Artifacts cached under REPO/.reconciler/artifacts.</summary>
    public static IArtifactFetcher Artifacts(string repoRoot, HttpClient http) =>
        new ArtifactFetcher(repoRoot, ArtifactFetcher.DefaultCacheDirectory(repoRoot), http);

    /// <summary>env:NAME, and consul:path when a Consul client is given.</summary>
    public static ISecretResolver Secrets(ConsulClient? consul = null) =>
        new SecretResolver(consul is null ? null : async (key, ct) => (await consul.GetAsync(key, ct: ct)).Value?.ValueText);
}
