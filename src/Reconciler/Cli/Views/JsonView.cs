using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>`--format json` of status, history, state, drift, toggles and validate: the value in the product's one JSON
/// dialect (<see cref="ReconcilerJson"/>: camelCase, enums kebab-case, no nulls), one document and a newline.
/// Metadata is compile-time only (the shipped build is Native AOT): the engine's types from its context, the CLI's
/// own documents from <see cref="CliJsonContext"/>.</summary>
public static class JsonView
{
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static string Render<T>(T value) => JsonSerializer.Serialize(value, Options.InfoFor<T>()) + "\n";

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(ReconcilerJson.Options)
        {
            TypeInfoResolver = JsonTypeInfoResolver.Combine(CliJsonContext.Default, ReconcilerJson.Options.TypeInfoResolver),
        };
        options.MakeReadOnly();
        return options;
    }
}

/// <summary>The documents only the CLI writes, for <see cref="JsonView"/>.</summary>
[JsonSerializable(typeof(List<ValidateOutput.JsonDiagnostic>))]
[JsonSerializable(typeof(StateView.UnfreezeJson))]
[JsonSerializable(typeof(LiveView.DriftJson))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
