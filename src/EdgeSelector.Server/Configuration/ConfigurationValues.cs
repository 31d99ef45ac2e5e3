using System.Globalization;

namespace EdgeSelector.Server.Configuration;

/// <summary>
/// Checks a configuration value against its key's type before the (source-generated) binder sees it, with the
/// binder's own parsing rules (invariant culture; enums by name, any case), so a bad value is one line naming the key
/// and what it must look like instead of the binder's exception.
/// </summary>
internal static class ConfigurationValues
{
    /// <summary>What a value of <paramref name="type"/> must look like (--help's "type" column, error messages).</summary>
    public static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true|false",
        _ when type == typeof(int) => "integer",
        _ when type == typeof(long) => "integer",
        _ when type == typeof(ulong) => "unsigned integer",
        _ when type == typeof(double) || type == typeof(float) => "number",
        _ when type == typeof(string) => "text",
        _ when type.IsEnum => string.Join('|', Enum.GetNames(type)),
        _ => type.Name,
    };

    /// <summary>True when <paramref name="text"/> is a valid value of <paramref name="type"/>.</summary>
    public static bool IsValid(Type type, string text)
    {
        const NumberStyles Integer = NumberStyles.Integer;
        const NumberStyles Float = NumberStyles.Float;
        var ci = CultureInfo.InvariantCulture;
        return text.Length == 0 || type switch // empty: the binder keeps the default (EdgeSelector__RespPort= in an env file)
        {
            _ when type == typeof(bool) => bool.TryParse(text, out _),
            _ when type == typeof(int) => int.TryParse(text, Integer, ci, out _),
            _ when type == typeof(long) => long.TryParse(text, Integer, ci, out _),
            _ when type == typeof(ulong) => ulong.TryParse(text, Integer, ci, out _),
            // NaN and infinities parse but are never a meaningful duration, rate or size.
            _ when type == typeof(double) => double.TryParse(text, Float, ci, out var d) && double.IsFinite(d),
            _ when type == typeof(float) => float.TryParse(text, Float, ci, out var f) && float.IsFinite(f),
            _ when type == typeof(string) => true,
            // Enum.TryParse also takes numbers ("7"): only a defined member is a value.
            _ when type.IsEnum => !IsNumber(text) && Enum.TryParse(type, text, ignoreCase: true, out var value) && Enum.IsDefined(type, value!),
            _ => true,
        };
    }

    private static bool IsNumber(string text)
    {
        var trimmed = text.TrimStart();
        return trimmed.Length > 0 && (char.IsAsciiDigit(trimmed[0]) || trimmed[0] is '-' or '+');
    }
}
