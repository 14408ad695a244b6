using System.Collections.Concurrent;
using System.Diagnostics;
using LibGit2Sharp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Reconciler.Drivers;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.State;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

/// <summary>`reconciler run` as a real child process: its /status during an apply, then SIGTERM (kill -TERM) while a health gate waits.</summary>
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class RunSigtermTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly ConcurrentQueue<string> _probes = new();
    private WebApplication _health = null!;
    private int _healthPort;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _health = builder.Build();
        // 3.0.0 never gets healthy: its apply sits in the health wait until the deadline (20 s), or until stopped.
        _health.MapGet("/health/{version}", (string version) =>
        {
            _probes.Enqueue(version);
            return version == "3.0.0" ? Results.StatusCode(500) : Results.Ok("healthy");
        });
        await _health.StartAsync();
        _healthPort = new Uri(_health.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
    }

    public async Task DisposeAsync()
    {
        await _health.StopAsync();
        await _health.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Sigterm_during_an_apply_stops_at_a_safe_point_releases_the_lock_and_exits_0()
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("SIGTERM test needs kill(1)");
        using var repo = new GitTestRepo(_dir.Combine("infra"));
        var bytes = GitOpsEndToEndTests.Artifact();
        Directory.CreateDirectory(Path.Combine(repo.Path, "artifacts"));
        File.WriteAllBytes(Path.Combine(repo.Path, "artifacts", "api.tar.gz"), bytes);
        Commands.Stage(repo.Repo, "artifacts/api.tar.gz");
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var files = GitOpsEndToEndTests.InfraFiles(sha, _healthPort)
            .Select(f => f.Path == "services/api.yaml" ? (f.Path, (string?)GitOpsEndToEndTests.ApiYaml("1.0.0", sha, _healthPort).Replace("deadline: 1500ms", "deadline: 20s")) : f)
            .ToArray();
        var a = repo.Commit("api 1.0.0", files);

        var psi = ChildProcess.ReconcilerStartInfo(["run", "--env", "test", "--repo", repo.Path, "--interval", "200ms", "--listen", "127.0.0.1:0"]);
        psi.RedirectStandardInput = false;
        psi.Environment.Remove("RECONCILER_STATE");
        psi.Environment.Remove("RECONCILER_WEBHOOK_SECRET");
        using var process = Process.Start(psi)!;
        var stderr = new SynchronizedLog();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderr.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            await Wait.Until(() => stderr.Count($"apply of {a.Sha[..12]}: succeeded") == 1, "A deployed:\n" + stderr, 60_000);
            var b = repo.Commit("api 3.0.0", ("services/api.yaml", GitOpsEndToEndTests.ApiYaml("3.0.0", sha, _healthPort).Replace("deadline: 1500ms", "deadline: 20s")));
            await Wait.Until(() => _probes.Contains("3.0.0"), "B in its health wait:\n" + stderr, 60_000);

            // /status shows the apply in flight, its progress and the lock.
            var address = System.Text.RegularExpressions.Regex.Match(stderr.ToString(), @"listening on (http://127\.0\.0\.1:\d+/)").Groups[1].Value;
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                Assert.Equal("ok\n", await http.GetStringAsync(new Uri(new Uri(address), "/healthz")));
                using var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri(new Uri(address), "/status")));
                var environment = status.RootElement.GetProperty("environments")[0];
                Assert.Equal(b.Sha, environment.GetProperty("inFlight").GetProperty("commit").GetString());
                Assert.True(environment.GetProperty("inFlight").GetProperty("progressEvents").GetInt32() > 0);
                Assert.StartsWith("daemon@", environment.GetProperty("lock").GetProperty("owner").GetString());
                Assert.Equal(a.Sha, environment.GetProperty("lastResult").GetProperty("commit").GetString());
            }

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);

            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{stderr}");
            Assert.Contains("stopping: waiting for the apply of " + b.Sha[..12], stderr.ToString());

            await using var store = StateStores.Open("sqlite:.reconciler/state.db", repo.Path, TimeProvider.System);
            Assert.Null(await store.ReadLockAsync("test", CancellationToken.None));

            // No broken host: `current` names a complete release (its marker is written last when staging).
            var deploy = Path.Combine(repo.Path, ".reconciler", "local", "local-1", "srv", "api");
            var target = new DirectoryInfo(Path.Combine(deploy, ReleaseLayout.CurrentLink)).ResolveLinkTarget(returnFinalTarget: true);
            Assert.NotNull(target);
            Assert.True(File.Exists(Path.Combine(target.FullName, ReleaseLayout.MarkerFile)), $"current -> {target.FullName} is not a complete release");
            Assert.True(File.Exists(Path.Combine(target.FullName, "README")));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await stdout;
        }
    }
}
