using Reconciler.State;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>StateStores.Locate, the one rule every use case resolves its store with (docs/state.md).</summary>
public sealed class StoreLocationTests : IDisposable
{
    private readonly TempDir _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public void The_option_wins_and_the_repo_is_not_even_asked()
    {
        var asked = false;

        var location = StateStores.Locate("sqlite:x.db", () => { asked = true; return "consul://127.0.0.1:8500/r"; }, _repo.Path);

        Assert.False(asked);
        Assert.Equal(new StoreLocation("sqlite:x.db", _repo.Path), location);
        Assert.Equal(_repo.Combine("x.db"), location.SqliteFile);
    }

    [Fact]
    public void Without_the_option_the_repos_state_is_used_else_the_default_sqlite_file()
    {
        Assert.Equal("consul://127.0.0.1:8500/r", StateStores.Locate(null, "consul://127.0.0.1:8500/r", _repo.Path).Url);
        Assert.Equal("consul://127.0.0.1:8500/r", StateStores.Locate("  ", "consul://127.0.0.1:8500/r", _repo.Path).Url);

        var fallback = StateStores.Locate(null, (string?)null, _repo.Path);
        Assert.Null(fallback.Url);
        Assert.Equal(_repo.Combine(".reconciler", "state.db"), fallback.SqliteFile);
    }

    [Fact]
    public void Without_a_loaded_repo_the_state_key_of_reconciler_yaml_is_read_and_other_keys_are_not_checked()
    {
        File.WriteAllText(_repo.Combine("reconciler.yaml"), "kind: Repository\nstate: sqlite:live.db\nbogus: 1\n");
        Assert.Equal("sqlite:live.db", StateStores.Locate(null, _repo.Path).Url);

        File.WriteAllText(_repo.Combine("reconciler.yaml"), "kind: Repository\nstate: [1, 2]\n");
        var e = Assert.Throws<ReconcilerException>(() => StateStores.Locate(null, _repo.Path));
        Assert.Equal(FailureKind.InvalidInput, e.Kind);
        Assert.StartsWith(_repo.Combine("reconciler.yaml") + ":2:", e.Message);
    }

    [Fact]
    public void A_sqlite_file_that_does_not_exist_yet_is_not_there_to_read()
    {
        var location = StateStores.Locate(null, (string?)null, _repo.Path);
        Assert.False(location.Exists);
        Assert.True(StateStores.Locate("consul://127.0.0.1:8500/r", (string?)null, _repo.Path).Exists);

        var file = _repo.Combine(".reconciler", "state.db");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllBytes(file, []);
        Assert.True(location.Exists);
    }
}
