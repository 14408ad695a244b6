using Reconciler.Diff.Planning;
using Reconciler.Telemetry;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Cli.Tests.Hosting;

/// <summary>
/// What an OTLP/HTTP collector receives from a CLI invocation (the exporters <see cref="TelemetrySetup"/> wires), read
/// back from the protobuf bodies: the resource names service, version and host; each metric arrives once; no metric
/// carries the commit (the spans do).
/// </summary>
public sealed class TelemetryExportTests
{
    [Fact]
    public async Task An_apply_reaches_an_OTLP_HTTP_receiver_once_with_its_resource_and_no_unbounded_metric_attributes()
    {
        const string commit = "c-otlp-4b1e";
        using var receiver = new OtlpReceiver();
        using (TelemetrySetup.Start(otel: null, "reconciler", receiver.Url))
        {
            // A real apply through the executor (fake hosts and time): a canary that fails its gate and rolls back, so
            // every instrument records.
            var w = new ExecutorWorld();
            w.Deployed("c0", Service("db", "2.0.0"), Service("api", "1.4.2", dependsOn: ["db"]));
            var bad = Service("api", "1.5.0", Canary(1), dependsOn: ["db"]);
            w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(bad);
            await w.ApplyAsync(w.Request(w.Desired(commit, [Service("db", "2.1.0"), bad])));
        }

        var metricRequests = receiver.Requests.Where(r => r.Path == "/v1/metrics").ToList();
        var exported = Assert.Single(metricRequests); // exported once, at shutdown (a flush before it sent it all twice)
        Assert.Equal("application/x-protobuf", exported.ContentType);
        // ExportMetricsServiceRequest: resource_metrics = 1 { resource = 1 { attributes = 1 }, scope_metrics = 2 { metrics = 2 } }
        var resourceMetrics = Assert.Single(ProtoMessage.Parse(exported.Body).Messages(1));
        var resource = resourceMetrics.Message(1)!.Attributes(1);
        Assert.Equal("reconciler", resource["service.name"]);
        Assert.Equal(CliApp.BuiltFrom().Version, resource["service.version"]);
        Assert.Equal(Environment.MachineName, resource["host.name"]);

        var metrics = resourceMetrics.Messages(2).SelectMany(scope => scope.Messages(2)).ToList();
        var names = metrics.Select(m => m.String(1)!).ToList();
        Assert.Equal(names.Distinct(), names);
        foreach (var expected in new[] { "reconciler.applies", "reconciler.deploy.duration", "reconciler.gate.failures", "reconciler.rollbacks", "reconciler.hosts.deployed" })
            Assert.Contains(expected, names);
        // Metric: gauge = 5 / sum = 7 { data_points = 1 { attributes = 7 } }, histogram = 9 { data_points = 1 { attributes = 9 } }
        var points = metrics.SelectMany(m => m.Has(9) ? m.Message(9)!.Messages(1).Select(p => (Name: m.String(1)!, Attributes: p.Attributes(9)))
                                                      : (m.Message(7) ?? m.Message(5))!.Messages(1).Select(p => (Name: m.String(1)!, Attributes: p.Attributes(7)))).ToList();
        Assert.NotEmpty(points);
        var allowed = new HashSet<string> { "reconciler.environment", "reconciler.result" };
        Assert.All(points, p => Assert.Subset(allowed, p.Attributes.Keys.ToHashSet()));
        Assert.Contains(points, p => p.Name == "reconciler.applies" && p.Attributes["reconciler.result"] == "rolled-back");

        // ExportTraceServiceRequest: resource_spans = 1 { resource = 1, scope_spans = 2 { spans = 2 { name = 5, attributes = 9 } } }
        var spans = receiver.Requests.Where(r => r.Path == "/v1/traces")
            .SelectMany(r => ProtoMessage.Parse(r.Body).Messages(1)).SelectMany(rs => rs.Messages(2)).SelectMany(ss => ss.Messages(2))
            .Where(s => s.Attributes(9).GetValueOrDefault("reconciler.commit") == commit).ToList();
        Assert.Contains(spans, s => s.String(5) == "apply");
        Assert.Contains(spans, s => s.String(5) == "rollback");
    }
}
