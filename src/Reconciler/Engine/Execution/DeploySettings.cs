using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>How one service reaches its hosts, as the journal header records it: what a rollback or a repair needs to
/// put back a release that the commit being applied no longer describes.</summary>
internal sealed record DeploySettings(
    [property: JsonConverter(typeof(DriverNameConverter))] DriverKind Driver,
    string Path,
    string? RestartCommand,
    string? StopCommand,
    int KeepReleases)
{
    public static DeploySettings Of(DeploySpec deploy) =>
        new(deploy.Driver, deploy.Path, deploy.RestartCommand, deploy.StopCommand, deploy.KeepReleases);

    /// <summary>
    /// The settings a live service was applied with, read from its field snapshot (<see cref="ServiceFields.Flatten"/>):
    /// the one place the executor reads deploy settings out of display fields, once, when the header is made. A driver
    /// this version does not know, or a missing field, is an error: guessing would deploy over the wrong channel.
    /// </summary>
    public static DeploySettings FromFields(string service, IReadOnlyDictionary<string, string> fields)
    {
        string Field(string path) => fields.TryGetValue(path, out var value) ? value : throw Unreadable(service, $"has no {path} field");
        var driverName = Field("deploy.driver");
        var driver = DriverNames.TryParse(driverName, out var kind) ? kind
            : throw Unreadable(service, $"names deploy driver '{Drivers.ReleaseLayout.Printable(driverName)}', which this version of reconciler does not know (known: {DriverNames.Known})");
        var keep = Field("deploy.keepReleases");
        return new DeploySettings(driver, Field("deploy.path"), fields.GetValueOrDefault("deploy.restartCommand"), fields.GetValueOrDefault("deploy.stopCommand"),
            int.TryParse(keep, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Unreadable(service, $"has deploy.keepReleases '{Drivers.ReleaseLayout.Printable(keep)}', not a count"));
    }

    private static ReconcilerException Unreadable(string service, string problem) =>
        new(FailureKind.StoreUnavailable, $"live state of service '{service}' {problem}; it cannot be changed or rolled back safely. Nothing was changed. " +
                                          "Check the store with `reconciler state` (a newer reconciler may have written it).");
}

/// <summary>A changed service's deploy settings before the apply (null: the apply creates it) and after it (null: the
/// apply removes it).</summary>
internal sealed record ServiceDeploys(DeploySettings? Before, DeploySettings? After)
{
    /// <summary>What the service's hosts were switched with before this apply touched them: the settings before the apply,
    /// or the new ones for a service this apply creates. Rollback and repair switch hosts back with these.</summary>
    [JsonIgnore]
    public DeploySettings Recorded => Before ?? After ?? throw new InvalidOperationException("a changed service has deploy settings before or after the apply");
}

/// <summary>Driver names as reconciler.yaml and the field snapshot spell them (<see cref="ServiceFields.DriverName"/>).</summary>
internal static class DriverNames
{
    private static readonly DriverKind[] Kinds = Enum.GetValues<DriverKind>();

    public static string Known { get; } = string.Join(", ", Kinds.Select(ServiceFields.DriverName));

    public static bool TryParse(string? name, out DriverKind kind)
    {
        foreach (var k in Kinds)
        {
            if (ServiceFields.DriverName(k) != name) continue;
            kind = k;
            return true;
        }
        kind = default;
        return false;
    }
}

/// <summary>The driver in the stored header by its name; an unknown name fails the read (and so the resume) with that name.</summary>
internal sealed class DriverNameConverter : JsonConverter<DriverKind>
{
    public override DriverKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return DriverNames.TryParse(name, out var kind) ? kind
            : throw new JsonException($"unknown deploy driver '{Drivers.ReleaseLayout.Printable(name ?? reader.TokenType.ToString())}' (known: {DriverNames.Known})");
    }

    public override void Write(Utf8JsonWriter writer, DriverKind value, JsonSerializerOptions options) =>
        writer.WriteStringValue(ServiceFields.DriverName(value));
}
