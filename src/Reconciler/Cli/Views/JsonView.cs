using System.Text.Json;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>`--format json` of status, history and state: the value in the product's one JSON dialect
/// (<see cref="ReconcilerJson"/>: camelCase, enums kebab-case, no nulls), one document and a newline.</summary>
public static class JsonView
{
    public static string Render<T>(T value) => JsonSerializer.Serialize(value, ReconcilerJson.Options) + "\n";
}
