using System.Net;
using System.Net.Sockets;
using System.Text;
using Reconciler.Drivers.Artifacts;
using Reconciler.Drivers.Secrets;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class ArtifactAndSecretTests : IDisposable
{
    private static readonly HttpClient Http = new();
    private readonly TempDir _temp = new();
    private static CancellationToken Ct => TestContext.Timeout;

    public void Dispose() => _temp.Dispose();

    private ArtifactFetcher Fetcher() => new(_temp.Combine("repo"), _temp.Combine("cache"), Http);

    private TestArtifact RepoArtifact() =>
        TestArtifact.Create(_temp.Combine("repo", "artifacts"), "app.tar.gz", new Dictionary<string, string> { ["x"] = "1" });

    [Fact]
    public async Task A_repo_relative_artifact_is_verified_and_cached_by_checksum()
    {
        var artifact = RepoArtifact();
        var path = await Fetcher().FetchAsync(new ArtifactSpec("artifacts/app.tar.gz", artifact.Sha256), Ct);
        Assert.Equal(_temp.Combine("cache", artifact.Sha256), path);

        File.Delete(artifact.Path); // served from the cache now
        Assert.Equal(path, await Fetcher().FetchAsync(new ArtifactSpec("artifacts/app.tar.gz", artifact.Sha256.ToUpperInvariant()), Ct));
    }

    [Fact]
    public async Task A_checksum_mismatch_names_expected_and_actual_and_caches_nothing()
    {
        var artifact = RepoArtifact();
        var wrong = new string('b', 64);
        var e = await Assert.ThrowsAsync<ArtifactException>(() => Fetcher().FetchAsync(new ArtifactSpec("artifacts/app.tar.gz", wrong), Ct));
        Assert.StartsWith($"artifact artifacts/app.tar.gz: sha256 mismatch: expected {wrong}, actual {artifact.Sha256}.", e.Message);
        Assert.Empty(Directory.GetFiles(_temp.Combine("cache")));
    }

    [Theory]
    [InlineData("../outside.tar.gz", "stay inside it")]
    [InlineData("/etc/passwd", "stay inside it")]
    [InlineData("ftp://x/y.tar.gz", "unsupported scheme")]
    [InlineData("artifacts/missing.tar.gz", "does not exist")]
    public async Task Bad_sources_are_clear_errors(string url, string message)
    {
        RepoArtifact();
        var e = await Assert.ThrowsAsync<ArtifactException>(() => Fetcher().FetchAsync(new ArtifactSpec(url, new string('c', 64)), Ct));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task File_and_http_urls_are_fetched()
    {
        var artifact = RepoArtifact();
        Assert.EndsWith(artifact.Sha256, await Fetcher().FetchAsync(new ArtifactSpec("file://" + artifact.Path, artifact.Sha256), Ct));

        using var listener = new HttpListener();
        var port = FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var bytes = await File.ReadAllBytesAsync(artifact.Path);
        var serve = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                var context = await listener.GetContextAsync();
                context.Response.StatusCode = context.Request.Url!.AbsolutePath == "/app.tar.gz" ? 200 : 404;
                if (context.Response.StatusCode == 200) await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
        var fetcher = new ArtifactFetcher(_temp.Combine("repo"), _temp.Combine("cache2"), Http);
        Assert.EndsWith(artifact.Sha256, await fetcher.FetchAsync(new ArtifactSpec($"http://127.0.0.1:{port}/app.tar.gz", artifact.Sha256), Ct));
        var e = await Assert.ThrowsAsync<ArtifactException>(() => fetcher.FetchAsync(new ArtifactSpec($"http://127.0.0.1:{port}/nope", new string('d', 64)), Ct));
        Assert.Contains("HTTP 404", e.Message);
        await serve.WaitAsync(Ct);
    }

    [Fact]
    public async Task Secrets_resolve_from_env_and_consul_and_errors_never_show_values()
    {
        var env = new Dictionary<string, string> { ["DB_PASSWORD"] = "hunter2" };
        var kv = new Dictionary<string, string> { ["secrets/api/db"] = "s3cret" };
        var resolver = new SecretResolver((key, _) => Task.FromResult(kv.GetValueOrDefault(key)), name => env.GetValueOrDefault(name));

        Assert.Equal("hunter2", await resolver.ResolveAsync("env:DB_PASSWORD", Ct));
        Assert.Equal("s3cret", await resolver.ResolveAsync("consul:secrets/api/db", Ct));
        var missingEnv = await Assert.ThrowsAsync<SecretException>(() => resolver.ResolveAsync("env:NOPE", Ct));
        Assert.Contains("secret env:NOPE: environment variable NOPE is not set", missingEnv.Message);
        var missingKey = await Assert.ThrowsAsync<SecretException>(() => resolver.ResolveAsync("consul:secrets/none", Ct));
        Assert.Equal("secret consul:secrets/none: Consul key secrets/none does not exist", missingKey.Message);
        var unknown = await Assert.ThrowsAsync<SecretException>(() => resolver.ResolveAsync("vault:x", Ct));
        Assert.Contains("use env:NAME or consul:path/to/key", unknown.Message);
        var noConsul = await Assert.ThrowsAsync<SecretException>(() => new SecretResolver().ResolveAsync("consul:a", Ct));
        Assert.Contains("CONSUL_HTTP_ADDR", noConsul.Message);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
