using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>
/// Compile-time serialization metadata for the plan and the live state: a 15,000-service plan is tens of MB of
/// JSON, and reflection-based metadata plus its JIT cost more than the serialization itself in a short-lived CLI
/// process. The options are the product's dialect (<see cref="ReconcilerJson.Options"/>), so the bytes are the same.
/// </summary>
[JsonSerializable(typeof(Plan))]
[JsonSerializable(typeof(LiveState))]
internal sealed partial class PlanJsonContext : JsonSerializerContext
{
    // Lazy: static initializers of the two halves of this partial class run in no defined order.
    private static readonly Lazy<JsonSerializerOptions> DialectOptions = new(() => new(ReconcilerJson.Options) { TypeInfoResolver = Default });

    public static JsonTypeInfo<Plan> PlanInfo => (JsonTypeInfo<Plan>)DialectOptions.Value.GetTypeInfo(typeof(Plan));

    public static JsonTypeInfo<LiveState> LiveStateInfo => (JsonTypeInfo<LiveState>)DialectOptions.Value.GetTypeInfo(typeof(LiveState));
}
