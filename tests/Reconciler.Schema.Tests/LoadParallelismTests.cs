using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>The loader takes its degree of parallelism from its caller: one worker (the default) or several give the
/// same result, findings in the same order.</summary>
public class LoadParallelismTests
{
    public static TheoryData<string?> Cases() => [null, .. FixtureRepo.BadCases()];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Several_workers_load_what_one_worker_loads(string? badCase)
    {
        var one = RepoLoader.Load(FixtureRepo.Source(badCase));
        var cache = new MemoryParseCache();
        for (var round = 0; round < 2; round++)   // cold, then from the parse cache
        {
            var several = RepoLoader.Load(FixtureRepo.Source(badCase), cache, new LoadOptions(MaxDegreeOfParallelism: 4));
            Assert.Equal(FixtureRepo.Render(one), FixtureRepo.Render(several));
            Assert.Equal(Json(one.Model), Json(several.Model));
        }
    }

    private static string Json(object? model) => System.Text.Json.JsonSerializer.Serialize(model);

    [Fact]
    public void At_least_one_worker()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RepoLoader.Load(FixtureRepo.Source(), null, new LoadOptions(0)));
    }
}
