// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title A contract whose fallback returns its own calldata, byte for byte.
/// @notice Hostile on purpose: asked isValidSignature(hash, sig), it answers with the call itself,
///         whose first four bytes are that function's selector, 0x1626ba7e, which is also
///         EIP-1271's magic value. A verifier that checks only a prefix of the answer lets
///         anyone sign in as this contract; gatehouse must refuse it.
contract EchoFallback {
    fallback(bytes calldata input) external returns (bytes memory) {
        return input;
    }
}
