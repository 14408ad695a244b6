using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>The composition of a real reconciler for `apply` and `run`: drivers, probes, artifacts and secrets
/// from the drivers' factory, the pure planner, and the given store.</summary>
public static class ExecutorWiring
{
    /// <summary>One client for the process: health probes, artifact downloads and notifications share its pool.</summary>
    public static HttpClient Http { get; } = new() { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Driver options as the CLI sets them: the local driver's hosts live under REPO/.reconciler/local.</summary>
    public static HostDriverOptions DriverOptions(string repoRoot, string? sshKeyPath, bool trustUnknownHostKeys, TextWriter warnings,
        string? environment = null) => new()
    {
        LocalRoot = Path.Combine(repoRoot, ".reconciler", "local"),
        SshKeyPath = sshKeyPath,
        TrustUnknownHostKeys = trustUnknownHostKeys,
        Warn = message => { lock (warnings) warnings.WriteLine("warning: " + message); },
        Consul = ConsulFromEnvironment(),
        Environment = environment,
    };

    /// <summary>The Consul agent apps read from (consul-kv driver, consul health checks, consul: secrets), named the way
    /// every Consul tool names it: CONSUL_HTTP_ADDR and the other CONSUL_* variables of HashiCorp's api client
    /// (<see cref="Consul.ConsulClientOptions.FromEnvironment(Uri?, Func{string, string?})"/>). Null when CONSUL_HTTP_ADDR
    /// is unset: those features then fail with a message that says to set it.</summary>
    public static Consul.ConsulClient? ConsulFromEnvironment() =>
        string.IsNullOrWhiteSpace(System.Environment.GetEnvironmentVariable("CONSUL_HTTP_ADDR"))
            ? null
            : new Consul.ConsulClient(Consul.ConsulClientOptions.FromEnvironment(null, System.Environment.GetEnvironmentVariable));

    /// <param name="artifacts">Default: repo-relative paths from the working tree (pass a Git fetcher to apply a commit).</param>
    public static ExecutorDependencies Dependencies(IStateStore store, string repoRoot, TimeProvider time, HostDriverOptions drivers,
        IArtifactFetcher? artifacts = null) =>
        Dependencies(store, repoRoot, time, new HostDrivers(drivers), artifacts);

    /// <param name="drivers">The caller keeps it to open connections ahead (<see cref="HostDrivers.Preconnect"/>) and disposes it.</param>
    public static ExecutorDependencies Dependencies(IStateStore store, string repoRoot, TimeProvider time, HostDrivers drivers,
        IArtifactFetcher? artifacts = null) =>
        new(store, drivers.Create, HostDrivers.Probes(Http, drivers.Options.Consul), artifacts ?? HostDrivers.Artifacts(repoRoot, Http),
            HostDrivers.Secrets(drivers.Options.Consul), time,
            drivers.Options.Consul is null ? null : new Drivers.ConsulKv.ConsulTogglePublisher(drivers.Options.Consul));

    public static ReconcileService Reconciler(ExecutorDependencies dependencies, ReconcileOptions? options = null, IApplyObserver? observer = null) =>
        new(dependencies, Plan, options, observer);

    /// <summary>The pure planner, with its refusal turned into a user-facing error.</summary>
    public static Plan Plan(DesiredState desired, LiveState live) => Plan(desired, live, null);

    /// <param name="observed">What the hosts reported: drifted hosts are planned as repairs (null: the store alone).</param>
    public static Plan Plan(DesiredState desired, LiveState live, ObservedState? observed)
    {
        try
        {
            return Planner.Plan(desired, live, new PlanOptions(MaxDegreeOfParallelism: CoreParallelism.Workers, Observed: observed));
        }
        catch (PlanningException e)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, $"cannot plan environment '{desired.Environment}' at {desired.Revision}: {e.Message}");
        }
    }
}
