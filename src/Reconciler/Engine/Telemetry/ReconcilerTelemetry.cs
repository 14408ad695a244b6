using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Reconciler.Telemetry;

/// <summary>
/// The core's one ActivitySource and Meter, both named "Reconciler". The core only emits; exporters are
/// wired by the CLI (--otel console, or OTLP through the standard OTEL_* variables). Without a listener
/// StartActivity returns null and instruments cost next to nothing.
/// </summary>
public static class ReconcilerTelemetry
{
    public const string Name = "Reconciler";

    public static ActivitySource Source { get; } = new(Name);
    public static Meter Meter { get; } = new(Name);

    public static Histogram<double> DeployDuration { get; } =
        Meter.CreateHistogram<double>("reconciler.deploy.duration", unit: "s", description: "Wall time of one apply, lock to result.");
    public static Counter<long> HostsDeployed { get; } =
        Meter.CreateCounter<long>("reconciler.hosts.deployed", unit: "{host}", description: "Hosts switched to a new release.");
    public static Counter<long> GateFailures { get; } =
        Meter.CreateCounter<long>("reconciler.gate.failures", unit: "{gate}", description: "Health gates that did not pass before their deadline.");
    public static Counter<long> Rollbacks { get; } =
        Meter.CreateCounter<long>("reconciler.rollbacks", unit: "{apply}", description: "Applies rolled back after a failure or a pre-emption.");
    public static Counter<long> SshReconnects { get; } =
        Meter.CreateCounter<long>("reconciler.ssh.reconnects", unit: "{connection}", description: "SSH connections reopened after they dropped mid-step.");
    public static Counter<long> Applies { get; } =
        Meter.CreateCounter<long>("reconciler.applies", unit: "{apply}", description: "Applies by result.");
    // Issue 13; the gauges reconciler.hosts.healthy and reconciler.hosts.drifted live in Live/LiveMetrics.cs.
    public static Counter<long> Repairs { get; } =
        Meter.CreateCounter<long>("reconciler.repairs", unit: "{host}", description: "Drifted hosts repaired (re-switched, re-staged or restarted).");

    /// <summary>Starts a span tagged with the commit and environment every span of an apply carries. The commit is a
    /// span attribute only: on a metric every commit would start a new time series (<see cref="MetricTags"/>).</summary>
    public static Activity? Start(string name, string environment, string commit)
    {
        var activity = Source.StartActivity(name);
        activity?.SetTag("reconciler.environment", environment);
        activity?.SetTag("reconciler.commit", commit);
        return activity;
    }

    /// <summary>The attributes every metric carries: only values from a small, fixed set (the environment; callers add
    /// the result). Never the commit, a host or a service: those are unbounded and belong on spans.</summary>
    public static KeyValuePair<string, object?>[] MetricTags(string environment) =>
        [new("reconciler.environment", environment)];
}
