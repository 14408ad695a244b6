using Xunit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Reconciler.Diff.Planning;
using Reconciler.Telemetry;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

public sealed class TelemetryTests
{
    [Fact]
    public async Task Apply_emits_spans_per_apply_wave_service_batch_host_step_and_gate_and_metrics()
    {
        // Other tests run in parallel and emit too: keep only this test's commit.
        const string commit = "c-telemetry-7f3a";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ReconcilerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.GetTagItem("reconciler.commit") as string == commit) spans.Enqueue(a); },
        };
        ActivitySource.AddActivityListener(listener);
        var measurements = new ConcurrentQueue<(string Instrument, double Value)>();
        var metricAttributes = new ConcurrentQueue<string>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (i, l) => { if (i.Meter.Name == ReconcilerTelemetry.Name) l.EnableMeasurementEvents(i); };
        // Metrics carry no commit (unbounded: a new series per commit); a measurement is this test's when it is recorded
        // inside one of this test's spans, which do carry it.
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var t in tags) metricAttributes.Enqueue(t.Key);
            if (Activity.Current?.GetTagItem("reconciler.commit") as string == commit) measurements.Enqueue((i.Name, v));
        }
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        meters.Start();

        var w = new ExecutorWorld();
        w.Deployed("c0", Service("db", "2.0.0"), Service("api", "1.4.2", dependsOn: ["db"]));
        var bad = Service("api", "1.5.0", Canary(1), dependsOn: ["db"]);
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(bad);
        await w.ApplyAsync(w.Request(w.Desired(commit, [Service("db", "2.1.0"), bad])));

        var names = spans.Select(s => s.OperationName).ToHashSet();
        foreach (var expected in new[] { "apply", "wave", "service", "batch", "host stage", "host activate", "gate", "rollback" })
            Assert.Contains(expected, names);
        Assert.All(spans, s => Assert.Equal("staging", s.GetTagItem("reconciler.environment")));
        var apply = Assert.Single(spans, s => s.OperationName == "apply");
        Assert.Equal("rolled-back", apply.GetTagItem("reconciler.result"));
        Assert.Contains(spans, s => s.OperationName == "gate" && s.Status == ActivityStatusCode.Error);
        // Parent chain: a host step sits under batch -> service -> wave -> apply.
        var hostStep = spans.First(s => s.OperationName == "host activate");
        Assert.Equal(apply.TraceId, hostStep.TraceId);

        meters.RecordObservableInstruments();
        var byName = measurements.GroupBy(m => m.Instrument).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(1, byName["reconciler.gate.failures"]);
        Assert.Equal(1, byName["reconciler.rollbacks"]);
        Assert.True(byName["reconciler.hosts.deployed"] >= 5);   // db on 4 hosts + the api canary
        Assert.True(byName.ContainsKey("reconciler.deploy.duration"));
        Assert.Subset(new HashSet<string> { "reconciler.environment", "reconciler.result" }, metricAttributes.ToHashSet());
    }
}
