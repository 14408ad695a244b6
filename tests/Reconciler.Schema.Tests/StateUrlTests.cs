using System.Text;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>Every state URL form the CLI accepts (docs/state.md) is also accepted in reconciler.yaml's `state:`, so the
/// file and `--state` mean the same; the schema still refuses what the CLI refuses.</summary>
public class StateUrlTests
{
    private static LoadResult LoadWithState(string state)
    {
        var files = FixtureRepo.Files();
        var text = Encoding.UTF8.GetString(files["reconciler.yaml"]);
        Assert.Contains("state: sqlite:.reconciler/state.db", text);
        files["reconciler.yaml"] = Encoding.UTF8.GetBytes(text.Replace("state: sqlite:.reconciler/state.db", "state: " + state));
        return RepoLoader.Load(new InMemoryRepoSource(files));
    }

    [Theory]
    [InlineData("consul://127.0.0.1:8500/reconciler")]
    [InlineData("consuls://consul.internal:8501/reconciler")]
    [InlineData("consul:///reconciler")]   // the agent CONSUL_HTTP_ADDR names
    [InlineData("sqlite:state/live.db")]
    public void Accepted_forms_validate(string state)
    {
        var result = LoadWithState(state);
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
    }

    [Theory]
    [InlineData("consul:/reconciler")]
    [InlineData("sqlite:../outside.db")]
    [InlineData("http://127.0.0.1:8500/reconciler")]
    public void Other_forms_are_refused_at_the_state_line(string state)
    {
        var result = LoadWithState(state);
        Assert.Contains(result.Diagnostics, d => d.JsonPointer == "/state");
    }
}
