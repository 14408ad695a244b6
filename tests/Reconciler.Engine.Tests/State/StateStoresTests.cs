using Microsoft.Extensions.Time.Testing;
using Reconciler.State;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>StateStores.Open: which URL opens which store, and bad URLs.</summary>
public sealed class StateStoresTests : IDisposable
{
    private readonly TempDir _repo = new();
    private readonly FakeTimeProvider _time = new();

    public void Dispose() => _repo.Dispose();

    [Theory]
    [InlineData(null, "sqlite:{repo}/.reconciler/state.db")]
    [InlineData("", "sqlite:{repo}/.reconciler/state.db")]
    [InlineData("sqlite:data/live.db", "sqlite:{repo}/data/live.db")]
    [InlineData("sqlite:/var/lib/reconciler/state.db", "sqlite:/var/lib/reconciler/state.db")]
    [InlineData("consul://127.0.0.1:8500/reconciler", "consul://127.0.0.1:8500/reconciler")]
    [InlineData("consul://consul.internal:8500/infra/reconciler/", "consul://consul.internal:8500/infra/reconciler")]
    [InlineData("consuls://consul.internal:8501/reconciler", "consuls://consul.internal:8501/reconciler")]
    [InlineData("https://consul.internal/reconciler", "consuls://consul.internal:443/reconciler")]
    public async Task Accepted_forms_open_the_right_store(string? url, string describe)
    {
        await using var store = StateStores.Open(url, _repo.Path, _time);
        Assert.Equal(describe.Replace("{repo}", _repo.Path), store.Describe);
    }

    [Theory]
    [InlineData("consul:///reconciler", "127.0.0.1:8500", "consul://127.0.0.1:8500/reconciler")]
    [InlineData("consul:///infra/reconciler", "https://consul.internal:8501", "consuls://consul.internal:8501/infra/reconciler")]
    [InlineData("consul:///reconciler", "unix:///run/consul.sock", "consul:///reconciler (agent at unix:///run/consul.sock)")]
    public async Task A_consul_url_without_a_host_takes_the_agent_from_CONSUL_HTTP_ADDR(string url, string addr, string describe)
    {
        await using var store = StateStores.Open(url, _repo.Path, _time, name => name == "CONSUL_HTTP_ADDR" ? addr : null);
        Assert.Equal(describe, store.Describe);
        var e = Assert.Throws<ReconcilerException>(() => StateStores.Open(url, _repo.Path, _time, _ => null));
        Assert.Equal(FailureKind.EnvironmentFault, e.Kind);
        Assert.Contains("CONSUL_HTTP_ADDR is not set", e.Message);
    }

    [Theory]
    [InlineData("postgres://db/x", "unknown scheme 'postgres'")]
    [InlineData("sqlite:", "needs a path")]
    [InlineData("consul://127.0.0.1:8500", "a key prefix is required")]
    [InlineData("consul://127.0.0.1:8500/a/../b", "invalid Consul key prefix segment name '..'")]
    [InlineData("consul://user:secret@127.0.0.1:8500/r", "no user, query or fragment")]
    [InlineData("127.0.0.1:8500", "no scheme")]
    public void Bad_urls_are_user_errors_listing_the_accepted_forms(string url, string why)
    {
        var e = Assert.ThrowsAny<ReconcilerException>(() => StateStores.Open(url, _repo.Path, _time));
        Assert.Equal(FailureKind.InvalidInput, e.Kind);
        Assert.Contains(why, e.Message);
        Assert.Contains("Accepted: sqlite:PATH", e.Message);
        Assert.DoesNotContain("secret", e.Message.Replace("'consul://user:secret@", ""));
    }

    [Fact]
    public void The_url_comes_from_the_option_else_reconciler_yaml_else_the_default()
    {
        Assert.Null(StateStores.Locate(null, _repo.Path).Url);
        File.WriteAllText(_repo.Combine("reconciler.yaml"), "apiVersion: reconciler/v1\nkind: Repository\nstate: consul://127.0.0.1:8500/infra\n");
        Assert.Equal("consul://127.0.0.1:8500/infra", StateStores.Locate(null, _repo.Path).Url);
        Assert.Equal("sqlite:x.db", StateStores.Locate("sqlite:x.db", _repo.Path).Url);
        File.WriteAllText(_repo.Combine("reconciler.yaml"), "kind: Repository\nstate: [1, 2\n");
        var e = Assert.Throws<ReconcilerException>(() => StateStores.Locate(null, _repo.Path).Url);
        Assert.StartsWith(_repo.Combine("reconciler.yaml") + ":", e.Message);
    }
}
