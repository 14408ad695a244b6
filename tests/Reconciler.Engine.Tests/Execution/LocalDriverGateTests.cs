using System.Collections.Concurrent;
using Reconciler.Drivers;
using Reconciler.Drivers.Local;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

public sealed class LocalDriverGateTests
{
    private sealed class PathRecordingProbe : IHealthProbe
    {
        public ConcurrentQueue<string?> Paths { get; } = new();
        public Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
        {
            Paths.Enqueue(context.DeployPath);
            return Task.FromResult(new ProbeResult(true, "ok"));
        }
    }

    private sealed class FixedFetcher(string path) : IArtifactFetcher
    {
        public Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct) => Task.FromResult(path);
    }

    [Fact]
    public async Task Checks_see_the_deploy_path_where_the_local_driver_keeps_the_host()
    {
        using var temp = new TempDir();
        var artifact = TestArtifact.WithRestartRecorder(temp.Combine("artifacts"));
        var w = new ExecutorWorld(hosts: 1);
        var probe = new PathRecordingProbe();
        var local = new LocalDriverOptions { LocalRoot = temp.Combine("local") };
        var deps = new ExecutorDependencies(w.Store, _ => new LocalHostDriver(local), probe, new FixedFetcher(artifact.Path), new FakeSecretResolver(), w.Time);
        var spec = Service("api", "1.0.0") with
        {
            Artifact = new ArtifactSpec("artifacts/app.tar.gz", artifact.Sha256),
            Deploy = new DeploySpec(DriverKind.Local, "/srv/api", "./bin/restart", "./bin/stop", 5),
            Config = System.Collections.Immutable.ImmutableSortedDictionary<string, ConfigValue>.Empty,
        };

        var outcome = await w.Drive(Task.Run(() => new ReconcileService(deps, TestPlanner.Plan).ReconcileAsync(
            w.Request(w.Desired("c1", [spec])), null, CancellationToken.None)));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        var mapped = new LocalHostDriver(local).MapPath("web-1", "/srv/api");
        Assert.All(probe.Paths, p => Assert.Equal(mapped, p));
        Assert.True(File.Exists(Path.Combine(mapped, "restarted")));
    }
}
