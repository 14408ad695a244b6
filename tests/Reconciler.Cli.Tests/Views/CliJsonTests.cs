using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.UseCases;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

/// <summary>The CLI's own --format json documents come from compile-time metadata (<see cref="CliJsonContext"/>; the
/// shipped build is Native AOT) and are the bytes the reflection serializer wrote for them before, `drift`'s included,
/// which was an anonymous object.</summary>
public sealed class CliJsonTests
{
    private static readonly JsonSerializerOptions Reflection = new(ReconcilerJson.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    private static readonly DateTimeOffset At = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Drift_json_is_the_document_the_anonymous_object_was()
    {
        var observed = new ObservedState("production", At, TimeSpan.FromMilliseconds(1234.5678), [
            new ObservedHost("api", "web-1", "r2", "r1", "r1", HostHealth.Healthy, [DriftKind.WrongCurrent], "current -> r1 <by hand> & \"quoted\""),
            new ObservedHost("api", "web-2", "r2", "r2", null, HostHealth.Unreachable, [DriftKind.Unreachable, DriftKind.MissingCurrent], null),
            new ObservedHost("worker", "web-1", null, null, null, HostHealth.NotChecked, [], null),
        ]);
        // What LiveView.DriftDocument returned before it had a named type.
        var before = new
        {
            observed.Environment,
            observed.ObservedAt,
            TookSeconds = Math.Round(observed.Took.TotalSeconds, 3),
            HostsAsked = observed.Hosts.Select(h => h.Host).Distinct().Count(),
            Drifted = observed.Drifted.Select(h => new
            {
                h.Service, h.Host, h.DesiredRelease, h.RecordedRelease, h.ActualRelease, Health = DriftWords.Of(h.Health),
                Drift = h.Drift.Select(DriftWords.Of).ToArray(), h.Detail,
            }).ToArray(),
        };
        Assert.Equal(JsonSerializer.Serialize<object>(before, Reflection) + "\n", JsonView.Render(LiveView.DriftDocument(observed)));
    }

    [Fact]
    public void Validate_and_unfreeze_json_are_the_bytes_reflection_wrote()
    {
        Diagnostic[] diagnostics =
        [
            new(Severity.Error, "schema", "must be <string> & \"quoted\"", new SourceLocation("services/api.yaml", 3, 5), "/deploy/path"),
            new(Severity.Warning, "repo", "no environments", null),
        ];
        var items = ValidateOutput.Sort(diagnostics).Select(d => new ValidateOutput.JsonDiagnostic(d.Location is { } l ? "infra/" + l.File : null,
            d.Location?.Line, d.Location?.Column, d.Severity == Severity.Error ? "error" : "warning", d.RuleId, d.Message, d.JsonPointer)).ToList();
        Assert.Equal(JsonSerializer.Serialize(items, Reflection) + "\n", ValidateOutput.Json(diagnostics, "infra/"));

        var frozen = new FreezeInfo("release freeze", "ops", At);
        Assert.Equal(JsonSerializer.Serialize(new StateView.UnfreezeJson("production", true), Reflection) + "\n",
            StateView.RenderUnfreeze(new UnfreezeResult("production", frozen), json: true));
        Assert.Equal(JsonSerializer.Serialize(frozen, Reflection) + "\n", StateView.RenderFreeze(new FreezeResult("production", frozen), json: true));
    }

    public static TheoryData<Type> CliRoots() =>
        [.. typeof(CliJsonContext).GetCustomAttributesData().Where(a => a.AttributeType == typeof(JsonSerializableAttribute))
            .Select(a => (Type)a.ConstructorArguments[0].Value!)];

    [Theory]
    [MemberData(nameof(CliRoots))]
    public void Every_cli_document_resolves_from_compile_time_metadata(Type root)
    {
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>([root]);
        while (pending.TryPop(out var type))
        {
            if (!seen.Add(type)) continue;
            var info = JsonView.Options.GetTypeInfo(type);
            Assert.True(info.OriginatingResolver is CliJsonContext or JsonSerializerContext, $"{type} resolved by {info.OriginatingResolver}");
            foreach (var property in info.Properties) pending.Push(property.PropertyType);
            if (info.ElementType is { } element) pending.Push(element);
        }
    }
}
