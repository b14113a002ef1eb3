// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title A minimal contract wallet owned by one EOA, for testing EIP-1271 sign-in.
/// @notice It accepts exactly the signatures its owner makes over the given hash, as a Safe with
///         one owner would, so gatehouse's SIWE verification takes the EIP-1271 path end to end.
contract SmartWallet is IERC1271 {
    /// @dev EIP-1271's "valid" answer: bytes4(keccak256("isValidSignature(bytes32,bytes)")).
    bytes4 private constant MAGIC_VALUE = 0x1626ba7e;
    /// @dev Any other value means invalid; 0xffffffff is the conventional one.
    bytes4 private constant INVALID = 0xffffffff;

    error NotOwner();
    error CallFailed(bytes reason);

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Holds native coins like any wallet.
    receive() external payable {}

    /// @notice MAGIC_VALUE iff `signature` (65 bytes r || s || v) over `hash` recovers to the
    ///         owner. Never reverts on a malformed signature: verifiers treat a revert and a
    ///         refusal differently, and the refusal is what the standard asks for.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        // tryRecover rejects high-s and bad lengths instead of reverting.
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == owner ? MAGIC_VALUE : INVALID;
    }

    /// @notice Lets the owner use the wallet (move its tokens, join gates that need a call).
    function execute(address to, uint256 value, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != owner) revert NotOwner();
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) revert CallFailed(result);
    }
}
