using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.UseCases;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

/// <summary>The hand-written plan writer must produce the serializer's bytes, or saved plans and PR tooling would see
/// a different document depending on the code path.</summary>
public class PlanJsonWriterTests
{
    private static string BySerializer(Plan plan) => JsonSerializer.Serialize(plan, SavedPlanJsonContext.PlanInfo) + "\n";

    private static string ByWriter(Plan plan) => JsonPlanView.Render(plan);

    [Fact]
    public void Writes_the_serializers_bytes_for_the_showcase_and_generated_plans()
    {
        var catalog = PlanScenarios.PerHostConfig() with { Catalog = [new CatalogBinding("edge", "edge-node", 42, [new CatalogMember("edge-eu-1", "10.0.0.1", 2222)])] };
        foreach (var plan in new[] { PlanScenarios.Showcase(), PlanScenarios.Repairs(), PlanScenarios.Generated(60), PlanScenarios.Generated(400), PlanScenarios.PerHostConfig(), catalog })
            Assert.Equal(BySerializer(plan), ByWriter(plan));
    }

    [Fact]
    public void Writes_the_serializers_bytes_for_random_plans_with_awkward_strings()
    {
        var random = new Random(20261122);
        string[] pieces = ["a", "svc-1", "\"", "\\", "\n", "\t", "\u0001", "<", ">", "&", "'", "+", "é", "日本", "\U0001F680", "\u2028", "${x}", " ", "", "/"];
        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 6)).Select(_ => pieces[random.Next(pieces.Length)]));
        string? Maybe() => random.Next(3) == 0 ? null : Text();
        T Pick<T>() where T : struct, Enum => Enum.GetValues<T>()[random.Next(Enum.GetValues<T>().Length)];
        bool? MaybeBool() => random.Next(3) switch { 0 => null, 1 => true, _ => false };

        for (var i = 0; i < 300; i++)
        {
            var services = Enumerable.Range(0, random.Next(0, 5)).Select(_ => new ServiceChange(Text(), Pick<ServiceAction>(), Text(),
                Maybe(), Maybe(), Maybe(), Maybe(), Text(),
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new FieldChange(Text(), Pick<FieldChangeKind>(), Maybe(), Maybe()))],
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new HostChange(Text(), Maybe(), Maybe(), Maybe()))],
                random.Next(0, 1000))).ToImmutableArray();
            var toggles = Enumerable.Range(0, random.Next(0, 3)).Select(_ => new ToggleChange(Text(), Pick<ToggleAction>(), MaybeBool(), MaybeBool(),
                Enumerable.Range(0, random.Next(0, 3)).Select(k => (Key: Text() + k, Value: Text())).DistinctBy(p => p.Key)
                    .ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
                Text(), random.Next(0, 10))).ToImmutableArray();
            var waves = Enumerable.Range(0, random.Next(0, 3)).Select(n => new PlanWave(n, Pick<WaveKind>(),
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => Text())], [Text()], [])).ToImmutableArray();
            var plan = new Plan(Plan.CurrentFormatVersion, Text(), Text(), Maybe(), random.NextInt64(-1, long.MaxValue), services, toggles, waves);

            Assert.Equal(BySerializer(plan), ByWriter(plan));
        }
    }
}
