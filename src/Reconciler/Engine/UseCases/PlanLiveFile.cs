using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>`plan --live FILE`: the live state of one environment as JSON (docs/plan-json.md, live state input) instead of
/// the state store. Anything wrong with the file is invalid input, with the file (and line) named.</summary>
public static class PlanLiveFile
{
    public static LiveState Read(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"{path}: cannot read the live state file: {e.Message}");
        }
        try
        {
            var state = JsonSerializer.Deserialize(json, LiveStateFileJsonContext.LiveStateInfo)
                        ?? throw Invalid($"{path}: the live state is null; expected an object as documented in docs/plan-json.md.");
            return CheckComplete(state, path);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $":{line + 1}:{(e.BytePositionInLine ?? 0) + 1}" : "";
            var message = e.Message.Split(". Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.');
            throw Invalid($"{path}{where}: not a valid live state{(string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}")}: {message}. Expected the shape in docs/plan-json.md (live state input).");
        }
    }

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);

    /// <summary>System.Text.Json leaves absent constructor members null; name the first one missing instead of failing later.</summary>
    private static LiveState CheckComplete(LiveState s, string path)
    {
        string? missing =
            s.Environment is null ? "environment"
            : s.Services is null ? "services"
            : s.Toggles is null ? "toggles"
            : null;
        foreach (var (name, svc) in s.Services ?? ImmutableSortedDictionary<string, LiveService>.Empty)
        {
            if (missing is not null) break;
            missing = svc is null ? $"services.{name}"
                : svc.Name is null ? $"services.{name}.name"
                : svc.Version is null ? $"services.{name}.version"
                : svc.ReleaseId is null ? $"services.{name}.releaseId"
                : svc.ConfigHash is null ? $"services.{name}.configHash"
                : svc.Commit is null ? $"services.{name}.commit"
                : svc.DependsOn.IsDefault ? $"services.{name}.dependsOn"
                : svc.Fields is null ? $"services.{name}.fields"
                : svc.Hosts is null ? $"services.{name}.hosts"
                : svc.Hosts.FirstOrDefault(h => h.Value?.Host is null || h.Value.ActiveRelease is null) is { Key: { } bad } ? $"services.{name}.hosts.{bad} (host, activeRelease)"
                : svc.Name != name ? $"services.{name}.name (is '{svc.Name}', must equal its key)"
                : null;
        }
        foreach (var (name, t) in s.Toggles ?? ImmutableSortedDictionary<string, LiveToggle>.Empty)
            if (missing is null && (t?.Name is null || t.Commit is null)) missing = $"toggles.{name} (name, enabled, commit)";
        return missing is null ? s
            : throw Invalid($"{path}: not a valid live state: missing or wrong '{missing}'. Expected the shape in docs/plan-json.md (live state input).");
    }
}

/// <summary>Compile-time metadata for the live state file, in the product's dialect (<see cref="ReconcilerJson.Options"/>):
/// reflection metadata and its JIT would cost more than the reading in a short-lived CLI process.</summary>
[JsonSerializable(typeof(LiveState))]
internal sealed partial class LiveStateFileJsonContext : JsonSerializerContext
{
    // Lazy: static initializers of the two halves of this partial class run in no defined order.
    private static readonly Lazy<JsonSerializerOptions> DialectOptions = new(() => new(ReconcilerJson.Options) { TypeInfoResolver = Default });

    public static JsonTypeInfo<LiveState> LiveStateInfo => (JsonTypeInfo<LiveState>)DialectOptions.Value.GetTypeInfo(typeof(LiveState));
}
