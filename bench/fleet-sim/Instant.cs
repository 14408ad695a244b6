using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Bench.FleetSim;

/// <summary>A driver whose every step is done at once (the executor's cost alone); it counts stages and activations so
/// the benchmark can check that every host deployment happened.</summary>
internal sealed class InstantHostDriver : IHostDriver
{
    private int _stages, _activations;

    public int Stages => _stages;
    public int Activations => _activations;
    public DriverKind Kind => DriverKind.Ssh;

    public Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct) => Task.FromResult<IHostSession>(new Session(this, host));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Session(InstantHostDriver driver, HostSpec host) : IHostSession
    {
        public HostSpec Host => host;
        public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) => Task.FromResult(new HostReleases(null, []));
        public Task StageAsync(ReleaseBundle bundle, CancellationToken ct) { Interlocked.Increment(ref driver._stages); return Task.CompletedTask; }
        public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct) { Interlocked.Increment(ref driver._activations); return Task.CompletedTask; }
        public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct) => Task.FromResult(new CommandResult(0, ""));
        public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct) => Task.CompletedTask;
        public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct) => Task.CompletedTask;
    }
}

/// <summary>Every check passes at the first probe.</summary>
internal sealed class InstantProbe : IHealthProbe
{
    private static readonly Task<ProbeResult> Healthy = Task.FromResult(new ProbeResult(true, "ok"));
    public Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct) => Healthy;
}

/// <summary>Artifacts are "fetched" to a path the instant driver never reads (preflight skips a file that is not there).</summary>
internal sealed class NoFetch : IArtifactFetcher
{
    public Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct) => Task.FromResult("/nonexistent/" + artifact.Url);
}

internal sealed class NoSecrets : ISecretResolver
{
    public Task<string> ResolveAsync(string reference, CancellationToken ct) => throw new InvalidOperationException("the simulated fleet uses no secrets");
}
