//! [`code_point!`](crate::code_point): open code points, one newtype per registry.

/// Declares an open code point: a newtype over the wire integer, so that unknown values parse and
/// re-emit unchanged (no parse fails on a value this crate does not know), with a named constant
/// per known value, `name()`, `is_known()`, conversions both ways, and `Display`/`Debug`.
///
/// The text after the name picks how it prints: `spaced` shows `Resolution Request (1)` and
/// `unknown (9)` (the `Debug` form is the plain newtype, `PacketType(1)`); `compact` shows
/// `IKE_SA_INIT(34)` and a bare `99` for both `Display` and `Debug`, the way IANA registries
/// spell their names.
///
/// ```
/// dmvpn_wire::code_point! {
///     /// A demonstration registry.
///     Colour(u8): spaced {
///         /// The first colour.
///         RED = 1, "Red";
///         BLUE = 2, "Blue";
///     }
/// }
/// assert_eq!(Colour::RED.to_string(), "Red (1)");
/// assert_eq!(Colour(7).to_string(), "unknown (7)");
/// assert_eq!(format!("{:?}", Colour::BLUE), "Colour(2)");
/// assert!(Colour::from(2).is_known() && !Colour(0).is_known());
/// ```
#[macro_export]
macro_rules! code_point {
    (
        $(#[$meta:meta])*
        $name:ident($ty:ty): $style:ident {
            $( $(#[$cmeta:meta])* $konst:ident = $value:literal, $text:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $ty);

        impl $name {
            $(
                $(#[$cmeta])*
                #[doc = concat!("\n\n`", $text, "` (", stringify!($value), ").")]
                pub const $konst: $name = $name($value);
            )*

            /// The registry's name of a known value, `None` for others.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($text), )*
                    _ => None,
                }
            }

            /// Whether this crate knows the value.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                v.0
            }
        }

        $crate::code_point!(@style $style $name);
    };
    (@style spaced $name:ident) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{} ({})", n, self.0),
                    None => write!(f, "unknown ({})", self.0),
                }
            }
        }
    };
    (@style compact $name:ident) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(self, f)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({})", n, self.0),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::code_point! {
        /// Test registry.
        Spaced(u16): spaced {
            ONE = 1, "One";
        }
    }
    crate::code_point! {
        /// Test registry.
        Compact(u8): compact {
            TWO = 2, "TWO";
        }
    }

    #[test]
    fn both_styles_print_as_documented() {
        assert_eq!(Spaced::ONE.to_string(), "One (1)");
        assert_eq!(Spaced(5).to_string(), "unknown (5)");
        assert_eq!(format!("{:?}", Spaced(5)), "Spaced(5)");
        assert_eq!(Compact::TWO.to_string(), "TWO(2)");
        assert_eq!(format!("{:?}", Compact(9)), "9");
        assert_eq!(u8::from(Compact::TWO), 2);
        assert_eq!(Spaced::from(1), Spaced::ONE);
        assert_eq!(Compact::TWO.name(), Some("TWO"));
        assert!(!Compact(0).is_known());
    }
}
