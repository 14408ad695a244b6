using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.State;

/// <summary>
/// The dialect's enums as kebab-case strings (what <c>JsonStringEnumConverter(KebabCaseLower, false)</c> writes), with one
/// generic converter per enum listed here: the non-generic converter makes its converters with MakeGenericType, which
/// Native AOT cannot promise. An enum not listed fails loudly when a type holding it is first used (the dialect tests
/// walk every type of <see cref="ReconcilerJsonContext"/>), instead of being written as a number.
/// </summary>
internal sealed class KebabCaseEnums : JsonConverterFactory
{
    private static readonly FrozenDictionary<Type, JsonConverterFactory> ByEnum = new[]
    {
        Of<FailureKind>(), Of<JournalStatus>(), Of<ApplyResult>(), Of<HostHealth>(), Of<DriftKind>(),
        Of<ServiceAction>(), Of<FieldChangeKind>(), Of<RepairKind>(), Of<ToggleAction>(), Of<WaveKind>(), Of<FieldValueType>(),
        Of<StrategyKind>(), Of<HealthCheckKind>(), Of<OnFailure>(), Of<NotificationEvent>(), Of<Severity>(), Of<DriverKind>(), Of<Drivers.Ssh.SshUpload>(),
    }.ToFrozenDictionary();

    private static KeyValuePair<Type, JsonConverterFactory> Of<TEnum>() where TEnum : struct, Enum =>
        new(typeof(TEnum), new JsonStringEnumConverter<TEnum>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));

    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        ByEnum.TryGetValue(typeToConvert, out var factory)
            ? factory.CreateConverter(typeToConvert, options)
            : throw new NotSupportedException($"{typeToConvert} has no JSON converter: list it in {nameof(KebabCaseEnums)}.");
}
