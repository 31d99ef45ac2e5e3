namespace EdgeSelector.Primitives;

/// <summary>Device classes a request can come from; the wire, the profile store and the logs carry the byte value.</summary>
public enum DeviceClass : byte
{
    /// <summary>Not known.</summary>
    Unknown = 0,
    /// <summary>Smart TV or set-top box.</summary>
    Tv = 1,
    /// <summary>Phone.</summary>
    Phone = 2,
    /// <summary>Tablet.</summary>
    Tablet = 3,
    /// <summary>Desktop or laptop browser.</summary>
    Web = 4,
    /// <summary>Game console.</summary>
    Console = 5,
}
